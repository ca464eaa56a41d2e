output "task_table_names" {
  description = "Task table of each cluster."
  value       = { for name, instance in module.ecs_state : name => instance.task_table_name }
}

output "kms_key_arn" {
  description = "The key that encrypts every instance's tables, logs and queues."
  value       = aws_kms_key.ecs_state.arn
}
