provider "aws" {
  region = "us-east-1"
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.region
}

# One instance per cluster. `name` comes from the map key: every resource name derives from
# it, so two instances with one name would collide at apply (roles, tables, log groups).
module "ecs_state" {
  source   = "../.."
  for_each = var.clusters

  name         = each.key
  launch_type  = each.value.launch_type
  cluster_arns = [each.value.arn]
  kms_key_arn  = aws_kms_key.ecs_state.arn
}

# A customer-managed key for the tables, log groups, dead-letter queues and the functions'
# environment. The key policy lets each service use it for this module's resources only.
resource "aws_kms_key" "ecs_state" {
  description         = "ECS state tables, logs and dead-letter queues"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.key.json
}

data "aws_iam_policy_document" "key" {
  # Without it nobody in the account could manage the key, and IAM policies (the functions'
  # roles: DynamoDB and SQS use through kms:ViaService) would not apply.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch Logs encrypts the functions' log groups.
  statement {
    sid       = "CloudWatchLogs"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:aws:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/*-ecs-state*"]
    }
  }

  # EventBridge writes undeliverable events into the encrypted dead-letter queues.
  statement {
    sid       = "EventBridgeToDeadLetterQueue"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}
