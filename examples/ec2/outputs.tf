output "task_table_name" {
  description = "Table holding the latest state of every task."
  value       = module.ecs_state.task_table_name
}

output "container_instance_table_name" {
  description = "Table holding the latest state of every container instance."
  value       = module.ecs_state.container_instance_table_name
}

output "function_name" {
  description = "The function that applies ECS events."
  value       = module.ecs_state.function_name
}

output "dead_letter_queue_url" {
  description = "Queue of events that could not be applied; see the README for redrive."
  value       = module.ecs_state.dead_letter_queue_url
}
