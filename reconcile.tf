# The reconciler: the same package as the event function, run on a schedule, with its own
# role. It lists and describes the clusters' tasks (and container instances in EC2 mode)
# through the ECS API and writes what the tables miss or hold older, through the same
# conditional PutItem as events, so an event that is newer always wins.
locals {
  reconciler_name           = "${var.name}-ecs-state-reconcile"
  reconciler_role_arn_known = "${local.arn_prefix}:iam::${data.aws_caller_identity.current.account_id}:role/${local.reconciler_name}"
  reconciler_environment = merge(local.function_environment, {
    CLUSTER_ARNS                = join(",", var.cluster_arns)
    ECS_MAX_REQUESTS_PER_SECOND = tostring(var.reconcile_max_requests_per_second)
  })
}

resource "aws_cloudwatch_log_group" "reconciler" {
  count = var.reconcile_enabled ? 1 : 0
  #checkov:skip=CKV_AWS_158:A customer-managed key is opt-in through kms_key_arn; log groups are always encrypted by CloudWatch Logs.
  #checkov:skip=CKV_AWS_338:Retention is the caller's choice (log_retention_days); the state lives in DynamoDB, logs are for operations.
  name              = "/aws/lambda/${local.reconciler_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "reconciler" {
  count = var.reconcile_enabled ? 1 : 0
  #checkov:skip=CKV_AWS_117:The function only calls the ECS and DynamoDB APIs and needs no VPC.
  #checkov:skip=CKV_AWS_116:Failed runs go to the on-failure destination (aws_lambda_function_event_invoke_config); the next scheduled run repeats the work anyway.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the caller owns.
  #checkov:skip=CKV_AWS_173:The environment holds table names, cluster ARNs and switches only, no secrets; kms_key_arn encrypts it with a customer-managed key when given.
  #checkov:skip=CKV_AWS_50:X-Ray tracing is opt-in through tracing_enabled.
  #checkov:skip=CKV_AWS_115:One run at a time is enough; see reserved_concurrent_executions below.
  function_name    = local.reconciler_name
  description      = "Repairs and backfills the ECS state tables of ${var.name} from the ECS API"
  role             = aws_iam_role.reconciler[0].arn
  filename         = aws_lambda_function.this.filename
  source_code_hash = aws_lambda_function.this.source_code_hash
  handler          = "ecs_state.reconcile.lambda_handler"
  runtime          = var.runtime
  architectures    = [var.architecture]
  memory_size      = 256
  timeout          = var.reconcile_timeout
  # Two overlapping runs would only double the ECS requests; the writes stay correct.
  reserved_concurrent_executions = 1
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = local.reconciler_environment
  }

  dynamic "tracing_config" {
    for_each = var.tracing_enabled ? [1] : []
    content {
      mode = "Active"
    }
  }

  tags       = var.tags
  depends_on = [aws_cloudwatch_log_group.reconciler, aws_iam_role_policy.reconciler]
}

resource "aws_lambda_function_event_invoke_config" "reconciler" {
  count                        = var.reconcile_enabled ? 1 : 0
  function_name                = aws_lambda_function.reconciler[0].function_name
  maximum_retry_attempts       = 0 # the next scheduled run is the retry
  maximum_event_age_in_seconds = 3600

  destination_config {
    on_failure {
      destination = local.dlq_arn
    }
  }
}

# A rule with a schedule expression rather than EventBridge Scheduler: it needs no extra
# role (Scheduler assumes one to invoke the target) and lives beside the event rule.
resource "aws_cloudwatch_event_rule" "reconcile" {
  count               = var.reconcile_enabled ? 1 : 0
  name                = local.reconciler_name
  description         = "Runs the ECS state reconciler of ${var.name}"
  schedule_expression = var.reconcile_schedule
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "reconciler" {
  count     = var.reconcile_enabled ? 1 : 0
  rule      = aws_cloudwatch_event_rule.reconcile[0].name
  target_id = "ecs-state-reconciler"
  arn       = aws_lambda_function.reconciler[0].arn
}

resource "aws_lambda_permission" "reconcile_schedule" {
  count         = var.reconcile_enabled ? 1 : 0
  statement_id  = "AllowExecutionFromScheduleRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.reconciler[0].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.reconcile[0].arn
}
