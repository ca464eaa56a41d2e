# Two clusters, two launch types, one task table created by the first instance. The
# dead-letter queue is given (tests/module/test_apply.py creates it through the API): the
# queue paths are proven by the ec2 and fargate fixtures, and the provider's SQS waits
# would double this fixture's time.
module "ec2_cluster" {
  source = "../../../.."

  name                        = "t-shared-ec2"
  launch_type                 = "EC2"
  cluster_arns                = ["arn:aws:ecs:us-east-1:123456789012:cluster/ec2"]
  task_table_name             = "t-shared-tasks"
  deletion_protection_enabled = false
  create_dead_letter_queue    = false
  dead_letter_queue_arn       = "arn:aws:sqs:us-east-1:123456789012:t-given-dlq"
}

module "fargate_cluster" {
  source = "../../../.."

  name                     = "t-shared-fargate"
  launch_type              = "FARGATE"
  cluster_arns             = ["arn:aws:ecs:us-east-1:123456789012:cluster/fargate"]
  create_task_table        = false
  task_table_name          = module.ec2_cluster.task_table_name
  create_dead_letter_queue = false
  dead_letter_queue_arn    = "arn:aws:sqs:us-east-1:123456789012:t-given-dlq"
}

output "ec2_cluster" {
  value = module.ec2_cluster
}

output "fargate_cluster" {
  value = module.fargate_cluster
}
