data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  is_ec2 = var.launch_type == "EC2"

  task_table_name               = coalesce(var.task_table_name, "${var.name}-tasks")
  container_instance_table_name = local.is_ec2 ? coalesce(var.container_instance_table_name, "${var.name}-container-instances") : null
  create_container_instance     = local.is_ec2 && var.create_container_instance_table

  # Existing tables are addressed by name. Their ARNs are built rather than looked up, so
  # several instances can share a table that another instance creates in the same apply.
  table_arn_prefix = "arn:${data.aws_partition.current.partition}:dynamodb:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:table"
  # The key, status attribute and index name are also stated in function/ecs_state/events.py
  # (Kind, STATUS_INDEX); the module tests compare the applied tables with it. The INCLUDE
  # lists are what a listing shows and what the reconciler compares (version, _missingSince).
  status_index_name = "cluster-status"
  table_kinds = {
    task = {
      name   = local.task_table_name
      key    = "taskArn"
      status = "lastStatus"
      include = [
        "desiredStatus", "version", "taskDefinitionArn", "group", "startedBy", "launchType",
        "containerInstanceArn", "_eventTime", "_missingSince",
      ]
    }
    container_instance = {
      name    = local.container_instance_table_name
      key     = "containerInstanceArn"
      status  = "status"
      include = ["version", "ec2InstanceId", "agentConnected", "runningTasksCount", "pendingTasksCount", "_eventTime", "_missingSince"]
    }
  }
  created_tables = {
    for kind, table in local.table_kinds : kind => table
    if kind == "task" ? var.create_task_table : local.create_container_instance
  }
  task_table_arn = var.create_task_table ? aws_dynamodb_table.this["task"].arn : "${local.table_arn_prefix}/${local.task_table_name}"
  container_instance_table_arn = !local.is_ec2 ? null : (
    local.create_container_instance ? aws_dynamodb_table.this["container_instance"].arn : "${local.table_arn_prefix}/${local.container_instance_table_name}"
  )
  table_arns = concat([local.task_table_arn], local.is_ec2 ? [local.container_instance_table_arn] : [])

  function_environment = merge(
    {
      LAUNCH_TYPE      = var.launch_type
      TASK_TABLE_NAME  = local.task_table_name
      TTL_DAYS         = tostring(var.ttl_days)
      REDACT_OVERRIDES = tostring(var.redact_overrides)
      LOG_LEVEL        = var.log_level
    },
    local.is_ec2 ? { CONTAINER_INSTANCE_TABLE_NAME = local.container_instance_table_name } : {},
  )

  function_name  = "${var.name}-ecs-state"
  log_group_name = "/aws/lambda/${local.function_name}"
  dlq_name       = var.create_dead_letter_queue ? "${var.name}-ecs-state-dlq" : provider::aws::arn_parse(var.dead_letter_queue_arn).resource
  dlq_arn        = var.create_dead_letter_queue ? aws_sqs_queue.dead_letter[0].arn : var.dead_letter_queue_arn

  # ARNs built from values known at plan time, for policy documents: a data source that
  # refers to a resource with pending changes is read only at apply, so every change to the
  # rule would show the whole queue policy as unknown in the plan.
  arn_prefix       = "arn:${data.aws_partition.current.partition}"
  region_account   = "${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}"
  rule_arn_known   = "${local.arn_prefix}:events:${local.region_account}:rule/${var.event_bus_name == "default" ? "" : "${var.event_bus_name}/"}${var.name}-ecs-state"
  role_arn_known   = "${local.arn_prefix}:iam::${data.aws_caller_identity.current.account_id}:role/${var.name}-ecs-state"
  dlq_arn_known    = var.create_dead_letter_queue ? "${local.arn_prefix}:sqs:${local.region_account}:${local.dlq_name}" : var.dead_letter_queue_arn
  foreign_clusters = [for arn in var.cluster_arns : arn if !startswith(arn, "${local.arn_prefix}:ecs:${local.region_account}:cluster/")]

  # Never filter on detail.launchType: tasks placed by a capacity provider (FARGATE_SPOT
  # among them) carry none. launch_type decides which event types and tables exist.
  detail_types = local.is_ec2 ? ["ECS Task State Change", "ECS Container Instance State Change"] : ["ECS Task State Change"]
  event_pattern = merge(
    { source = ["aws.ecs"], "detail-type" = local.detail_types },
    length(var.cluster_arns) > 0 ? { detail = { clusterArn = var.cluster_arns } } : {},
  )

  # Built by tools/package.py (`make package`) and committed: a saved plan then applies in
  # any checkout of the same commit, and the hash changes only when function/ does.
  package_path = "${path.module}/function.zip"
}

# ---------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------
# A FARGATE instance looks for the container-instance table an EC2 apply of the same name
# would have made (the rule's precondition explains why). Only the default name can be
# found: in FARGATE mode no container-instance table name is given.
locals {
  previous_container_instance_table = "${var.name}-container-instances"
  protected_container_instance_table_left = (
    length(data.aws_dynamodb_table.previous_container_instance) > 0
    ? data.aws_dynamodb_table.previous_container_instance[0].deletion_protection_enabled
    : false
  )
}

data "aws_dynamodb_tables" "existing" {
  count = !local.is_ec2 && var.create_container_instance_table ? 1 : 0
}

data "aws_dynamodb_table" "previous_container_instance" {
  # names is null, not empty, in an account without tables.
  count = contains(flatten(data.aws_dynamodb_tables.existing[*].names), local.previous_container_instance_table) ? 1 : 0
  name  = local.previous_container_instance_table
}

resource "aws_dynamodb_table" "this" {
  for_each = local.created_tables
  #checkov:skip=CKV_AWS_119:A customer-managed key is opt-in through kms_key_arn; without it DynamoDB still encrypts at rest with an AWS-owned key.
  #checkov:skip=CKV2_AWS_16:Auto scaling applies to PROVISIONED mode only; the default is on-demand and provisioned capacity is the caller's choice.

  name                        = each.value.name
  billing_mode                = var.billing_mode
  read_capacity               = var.read_capacity
  write_capacity              = var.write_capacity
  hash_key                    = each.value.key
  deletion_protection_enabled = var.deletion_protection_enabled
  stream_enabled              = var.stream_enabled
  stream_view_type            = var.stream_enabled ? var.stream_view_type : null

  dynamic "attribute" {
    for_each = var.status_index_enabled ? [each.value.key, "clusterArn", each.value.status] : [each.value.key]
    content {
      name = attribute.value
      type = "S"
    }
  }

  # Items without a clusterArn or status are simply not indexed; every ECS event has both.
  dynamic "global_secondary_index" {
    for_each = var.status_index_enabled ? [each.value] : []
    content {
      name               = local.status_index_name
      hash_key           = "clusterArn"
      range_key          = global_secondary_index.value.status
      projection_type    = var.status_index_projection
      non_key_attributes = var.status_index_projection == "INCLUDE" ? global_secondary_index.value.include : null
      read_capacity      = var.read_capacity
      write_capacity     = var.write_capacity
    }
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery_enabled
  }

  # DynamoDB always encrypts at rest: with an AWS-owned key by default, with the
  # customer-managed key when kms_key_arn is given.
  server_side_encryption {
    enabled     = var.kms_key_arn != null
    kms_key_arn = var.kms_key_arn
  }

  # The name stays set when TTL is off: DynamoDB's UpdateTimeToLive refuses an empty
  # attribute name, also when disabling.
  ttl {
    enabled        = var.ttl_days > 0
    attribute_name = "_expiresAt"
  }

  tags = var.tags
}

# ---------------------------------------------------------------------------------------
# Function
# ---------------------------------------------------------------------------------------
resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_158:A customer-managed key is opt-in through kms_key_arn; log groups are always encrypted by CloudWatch Logs.
  #checkov:skip=CKV_AWS_338:Retention is the caller's choice (log_retention_days); the state lives in DynamoDB, logs are for operations.
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:The function only calls DynamoDB and needs no VPC; a VPC would add NAT or endpoint cost and cold-start latency.
  #checkov:skip=CKV_AWS_116:Failed asynchronous invocations go to the on-failure destination (aws_lambda_function_event_invoke_config), which records more context than a function DLQ; both would deliver every failure twice.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the caller owns; the zip is this module's own code, built reproducibly by tools/package.py and committed with it.
  #checkov:skip=CKV_AWS_173:The environment holds table names and switches only, no secrets; kms_key_arn encrypts it with a customer-managed key when given.
  #checkov:skip=CKV_AWS_50:X-Ray tracing is opt-in through tracing_enabled.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is opt-in through reserved_concurrent_executions; a default cap would throttle bursts of ECS events.
  function_name                  = local.function_name
  description                    = "Keeps the latest state of ECS ${var.launch_type == "EC2" ? "tasks and container instances" : "tasks"} in DynamoDB"
  role                           = aws_iam_role.function.arn
  filename                       = local.package_path
  source_code_hash               = filebase64sha256(local.package_path)
  handler                        = "ecs_state.handler.lambda_handler"
  runtime                        = var.runtime
  architectures                  = [var.architecture]
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrent_executions
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = local.function_environment
  }

  dynamic "tracing_config" {
    for_each = var.tracing_enabled ? [1] : []
    content {
      mode = "Active"
    }
  }

  tags = var.tags

  # The log group must exist first, or Lambda creates one without retention or key.
  depends_on = [aws_cloudwatch_log_group.function, aws_iam_role_policy.function]
}

resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = aws_lambda_function.this.function_name
  maximum_retry_attempts       = var.lambda_maximum_retry_attempts
  maximum_event_age_in_seconds = var.lambda_maximum_event_age_seconds

  destination_config {
    on_failure {
      destination = local.dlq_arn
    }
  }
}

resource "aws_lambda_permission" "eventbridge" {
  statement_id  = "AllowExecutionFromEventBridgeRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.ecs.arn
}

# ---------------------------------------------------------------------------------------
# Rule and target
# ---------------------------------------------------------------------------------------
resource "aws_cloudwatch_event_rule" "ecs" {
  name           = "${var.name}-ecs-state"
  description    = "ECS ${join(" and ", local.detail_types)} events for ${var.name}"
  event_bus_name = var.event_bus_name
  event_pattern  = jsonencode(local.event_pattern)
  tags           = var.tags

  lifecycle {
    # Checked at plan, before anything changes: switching EC2 -> FARGATE must not leave the
    # rule forwarding task events only while the function still runs EC2, with the apply
    # stopped at a protected table it was about to delete.
    precondition {
      condition     = !local.protected_container_instance_table_left
      error_message = "launch_type is FARGATE, but the container-instance table ${local.previous_container_instance_table} of an earlier EC2 apply exists with deletion protection on, and switching would delete it with its state. To delete it: apply once more as EC2 with deletion_protection_enabled = false, then switch. To keep it: move it out of this module's state (tofu state rm 'module.<name>.aws_dynamodb_table.this[\"container_instance\"]') and set create_container_instance_table = false, then switch."
    }
  }
}

check "cluster_arns_in_this_account_and_region" {
  assert {
    condition     = length(local.foreign_clusters) == 0
    error_message = "These cluster_arns are not in this provider's account and region (${local.region_account}), so only events forwarded to this bus from there can match: ${join(", ", local.foreign_clusters)}."
  }
}

resource "aws_cloudwatch_event_target" "function" {
  rule           = aws_cloudwatch_event_rule.ecs.name
  event_bus_name = var.event_bus_name
  target_id      = "ecs-state-function"
  arn            = aws_lambda_function.this.arn

  retry_policy {
    maximum_retry_attempts       = var.target_maximum_retry_attempts
    maximum_event_age_in_seconds = var.target_maximum_event_age_seconds
  }

  dead_letter_config {
    arn = local.dlq_arn
  }
}

# ---------------------------------------------------------------------------------------
# Dead-letter queue
# ---------------------------------------------------------------------------------------
resource "aws_sqs_queue" "dead_letter" {
  count                     = var.create_dead_letter_queue ? 1 : 0
  name                      = local.dlq_name
  message_retention_seconds = var.dead_letter_queue_retention_seconds
  kms_master_key_id         = var.kms_key_arn
  sqs_managed_sse_enabled   = var.kms_key_arn == null ? true : null
  tags                      = var.tags
}

resource "aws_sqs_queue_policy" "dead_letter" {
  count     = var.create_dead_letter_queue ? 1 : 0
  queue_url = aws_sqs_queue.dead_letter[0].id
  policy    = data.aws_iam_policy_document.dead_letter.json

  # SQS resolves role principals when the policy is set, so the roles must exist first.
  # The document itself names them by built ARNs (see local.role_arn_known).
  depends_on = [aws_iam_role.function, aws_iam_role.reconciler]
}

data "aws_iam_policy_document" "dead_letter" {
  statement {
    sid       = "EventBridgeRuleOnly"
    actions   = ["sqs:SendMessage"]
    resources = [local.dlq_arn_known]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.rule_arn_known]
    }
  }

  statement {
    sid       = "FunctionRolesOnly"
    actions   = ["sqs:SendMessage"]
    resources = [local.dlq_arn_known]

    principals {
      type        = "AWS"
      identifiers = concat([local.role_arn_known], var.reconcile_enabled ? [local.reconciler_role_arn_known] : [])
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [local.dlq_arn_known]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

# ---------------------------------------------------------------------------------------
# Alarms
# ---------------------------------------------------------------------------------------
locals {
  # Every alarm fires on the first occurrence in five minutes: any failure or any message
  # waiting means an event has not been applied, or the tables are not being repaired.
  alarms = var.create_alarms ? { for name, alarm in {
    errors = {
      name        = "${local.function_name}-errors"
      description = "The ECS state function failed; the event is retried and then lands in the dead-letter queue."
      namespace   = "AWS/Lambda"
      metric      = "Errors"
      dimensions  = { FunctionName = local.function_name }
      statistic   = "Sum"
    }
    reconciler-errors = {
      name        = "${local.reconciler_name}-errors"
      description = "The ECS state reconciler failed; the tables are not repaired until a run succeeds."
      namespace   = "AWS/Lambda"
      metric      = "Errors"
      dimensions  = { FunctionName = local.reconciler_name }
      statistic   = "Sum"
    }
    dlq-messages = {
      name        = "${local.function_name}-dlq-messages"
      description = "ECS events are waiting in the dead-letter queue; inspect them and redrive."
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = local.dlq_name }
      statistic   = "Maximum"
    }
  } : name => alarm if name != "reconciler-errors" || var.reconcile_enabled } : {}
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each            = local.alarms
  alarm_name          = each.value.name
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_sns_topic_arns
  ok_actions          = var.alarm_sns_topic_arns
  tags                = var.tags
}
