variable "deletion_protection_enabled" {
  type    = bool
  default = true
}

variable "launch_type" {
  type    = string
  default = "EC2"
}

variable "cluster" {
  type    = string
  default = "default"
}

module "ecs_state" {
  source = "../../../.."

  name                        = "t-ec2"
  launch_type                 = var.launch_type
  cluster_arns                = ["arn:aws:ecs:us-east-1:111122223333:cluster/${var.cluster}"]
  ttl_days                    = 30
  deletion_protection_enabled = var.deletion_protection_enabled
  stream_enabled              = true
  tags                        = { team = "platform" }
}

# Consumers of the table name outputs in the same apply: tagging a table that does not
# exist yet fails, so these succeed only if the outputs wait for the tables. (Tagging is
# idempotent: a retried request cannot fail on its own first attempt, as an item's
# conditional create can.)
resource "aws_dynamodb_tag" "task_table" {
  resource_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/${module.ecs_state.task_table_name}"
  key          = "consumer"
  value        = "same-apply"
}

resource "aws_dynamodb_tag" "container_instance_table" {
  resource_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/${module.ecs_state.container_instance_table_name}"
  key          = "consumer"
  value        = "same-apply"
}

output "module" {
  value = module.ecs_state
}
