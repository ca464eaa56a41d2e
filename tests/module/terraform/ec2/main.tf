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

# Consumers of the table outputs in the same apply: they must wait for the tables.
resource "aws_dynamodb_table_item" "task_seed" {
  table_name = module.ecs_state.task_table_name
  hash_key   = "taskArn"
  item = jsonencode({
    taskArn = { S = "arn:aws:ecs:us-east-1:123456789012:task/default/seed" }
    version = { N = "1" }
  })
}

resource "aws_dynamodb_table_item" "instance_seed" {
  table_name = module.ecs_state.container_instance_table_name
  hash_key   = "containerInstanceArn"
  item = jsonencode({
    containerInstanceArn = { S = "arn:aws:ecs:us-east-1:123456789012:container-instance/default/seed" }
    version              = { N = "1" }
  })
}

output "module" {
  value = module.ecs_state
}
