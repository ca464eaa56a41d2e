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
  source_policy_documents = [data.aws_iam_policy_document.features.json]

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

}

# What both roles need only when a feature is on: the customer-managed key (DynamoDB and
# SQS use it on the roles' behalf) and X-Ray.
data "aws_iam_policy_document" "features" {
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

# ---------------------------------------------------------------------------------------
# Reconciler: its own role, so the event function keeps PutItem only. ECS list and describe
# calls are limited to the module's clusters (cluster ARNs and the ecs:cluster condition)
# when cluster_arns is set; ListClusters is granted only when it is empty (every cluster).
# DynamoDB: the stored versions are read from the status index (Query) or, for a table
# without it, with BatchGetItem; missing records are marked with a conditional UpdateItem.
# ---------------------------------------------------------------------------------------
locals {
  ecs_arn_prefix      = "${local.arn_prefix}:ecs:${local.region_account}"
  reconciled_clusters = length(var.cluster_arns) > 0 ? var.cluster_arns : ["${local.ecs_arn_prefix}:cluster/*"]
}

resource "aws_iam_role" "reconciler" {
  count              = var.reconcile_enabled ? 1 : 0
  name               = local.reconciler_name
  description        = "ECS state reconciler of ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "reconciler" {
  count                   = var.reconcile_enabled ? 1 : 0
  source_policy_documents = [data.aws_iam_policy_document.features.json]

  dynamic "statement" {
    for_each = length(var.cluster_arns) == 0 ? [1] : []
    content {
      sid       = "FindClusters"
      actions   = ["ecs:ListClusters"]
      resources = ["*"] # ListClusters has no resource-level permissions
    }
  }

  dynamic "statement" {
    for_each = local.is_ec2 ? [1] : []
    content {
      sid       = "ListContainerInstances"
      actions   = ["ecs:ListContainerInstances"]
      resources = local.reconciled_clusters
    }
  }

  statement {
    sid     = "ListAndDescribeClusterResources"
    actions = local.is_ec2 ? ["ecs:DescribeContainerInstances", "ecs:DescribeTasks", "ecs:ListTasks"] : ["ecs:DescribeTasks", "ecs:ListTasks"]
    # ListTasks is authorized against container instances, also on Fargate.
    resources = ["${local.ecs_arn_prefix}:task/*", "${local.ecs_arn_prefix}:container-instance/*"]

    condition {
      test     = "ArnLike"
      variable = "ecs:cluster"
      values   = local.reconciled_clusters
    }
  }

  statement {
    sid       = "ReadAndWriteStateItems"
    actions   = ["dynamodb:BatchGetItem", "dynamodb:DescribeTable", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = local.table_arns
  }

  statement {
    sid       = "QueryStatusIndex"
    actions   = ["dynamodb:Query"]
    resources = [for arn in local.table_arns : "${arn}/index/${local.status_index_name}"]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.reconciler[0].arn}:*"]
  }

  statement {
    sid       = "SendFailuresToDeadLetterQueue"
    actions   = ["sqs:SendMessage"]
    resources = [local.dlq_arn]
  }

}

resource "aws_iam_role_policy" "reconciler" {
  count  = var.reconcile_enabled ? 1 : 0
  name   = "ecs-state-reconcile"
  role   = aws_iam_role.reconciler[0].id
  policy = data.aws_iam_policy_document.reconciler[0].json
}
