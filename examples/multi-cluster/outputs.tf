output "task_table_name" {
  description = "The task table both clusters write to."
  value       = module.web.task_table_name
}

output "container_instance_table_name" {
  description = "Container instances of the EC2 cluster."
  value       = module.web.container_instance_table_name
}

output "function_names" {
  description = "One function per cluster."
  value       = [module.web.function_name, module.jobs.function_name]
}
