# Least privilege: the function writes items (PutItem only, never reads or deletes), writes
# its own logs, and sends failed invocations to the dead-letter queue. KMS and X-Ray appear
# only when their features are turned on.

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "function" {
  name               = "${var.name}-ecs-state"
  description        = "ECS state function of ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "function" {
  statement {
    sid       = "PutStateItems"
    actions   = ["dynamodb:PutItem"]
    resources = local.table_arns
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function.arn}:*"]
  }

  statement {
    sid       = "SendFailuresToDeadLetterQueue"
    actions   = ["sqs:SendMessage"]
    resources = [local.dlq_arn]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [1]
    content {
      sid       = "UseKeyThroughDynamoDBAndSQS"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [var.kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values = [
          "dynamodb.${data.aws_region.current.region}.amazonaws.com",
          "sqs.${data.aws_region.current.region}.amazonaws.com",
        ]
      }
    }
  }

  dynamic "statement" {
    for_each = var.tracing_enabled ? [1] : []
    content {
      sid       = "XRayTraces"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"] # X-Ray has no resource-level permissions
    }
  }
}

resource "aws_iam_role_policy" "function" {
  name   = "ecs-state"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.function.json
}
