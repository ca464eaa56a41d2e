output "task_table_name" {
  description = "ECSTaskState, keyed by taskArn."
  value       = module.ecs_state.task_table_name
}

output "container_instance_table_name" {
  description = "ECSCtrInstanceState, keyed by containerInstanceArn."
  value       = module.ecs_state.container_instance_table_name
}
