# Tables and a dead-letter queue made outside this configuration (the test creates them
# first through the API), given by name and ARN.
module "ecs_state" {
  source = "../../../.."

  name                            = "t-existing"
  launch_type                     = "EC2"
  create_task_table               = false
  task_table_name                 = "legacy-tasks"
  create_container_instance_table = false
  container_instance_table_name   = "legacy-instances"
  create_dead_letter_queue        = false
  dead_letter_queue_arn           = "arn:aws:sqs:us-east-1:123456789012:t-given-dlq"
}

output "module" {
  value = module.ecs_state
}
