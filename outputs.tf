output "task_table_name" {
  description = "Name of the task table (partition key taskArn)."
  value       = local.task_table_name
}

output "task_table_arn" {
  description = "ARN of the task table."
  value       = local.task_table_arn
}

output "container_instance_table_name" {
  description = "Name of the container-instance table (partition key containerInstanceArn); null when launch_type is FARGATE."
  value       = local.container_instance_table_name
}

output "container_instance_table_arn" {
  description = "ARN of the container-instance table; null when launch_type is FARGATE."
  value       = local.container_instance_table_arn
}

output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the Lambda function."
  value       = aws_lambda_function.this.arn
}

output "role_arn" {
  description = "ARN of the function's IAM role."
  value       = aws_iam_role.function.arn
}

output "rule_name" {
  description = "Name of the EventBridge rule."
  value       = aws_cloudwatch_event_rule.ecs.name
}

output "rule_arn" {
  description = "ARN of the EventBridge rule."
  value       = aws_cloudwatch_event_rule.ecs.arn
}

output "event_pattern" {
  description = "The rule's event pattern, as JSON."
  value       = aws_cloudwatch_event_rule.ecs.event_pattern
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue (created or given)."
  value       = local.dlq_arn
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue; null when an existing queue was given by ARN."
  value       = var.create_dead_letter_queue ? aws_sqs_queue.dead_letter[0].url : null
}

output "log_group_name" {
  description = "Name of the function's CloudWatch log group."
  value       = aws_cloudwatch_log_group.function.name
}

output "function_zip_path" {
  description = "Path of the function zip built by archive_file (what is deployed)."
  value       = data.archive_file.function.output_path
}
