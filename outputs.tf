output "task_table_name" {
  description = "Name of the task table (partition key taskArn). Refers to the table resource when the module creates it, so a consumer in the same apply waits for the table."
  value       = var.create_task_table ? aws_dynamodb_table.this["task"].name : local.task_table_name
}

output "task_table_arn" {
  description = "ARN of the task table."
  value       = local.task_table_arn
}

output "container_instance_table_name" {
  description = "Name of the container-instance table (partition key containerInstanceArn); null when launch_type is FARGATE."
  value       = local.create_container_instance ? aws_dynamodb_table.this["container_instance"].name : local.container_instance_table_name
}

output "container_instance_table_arn" {
  description = "ARN of the container-instance table; null when launch_type is FARGATE."
  value       = local.container_instance_table_arn
}

output "task_index_name" {
  description = "Name of the task table's status index (partition key clusterArn, sort key lastStatus); null when the module does not create the table or status_index_enabled is false."
  value       = var.create_task_table && var.status_index_enabled ? one([for index in aws_dynamodb_table.this["task"].global_secondary_index : index.name]) : null
}

output "container_instance_index_name" {
  description = "Name of the container-instance table's status index (partition key clusterArn, sort key status); null when the module does not create that table or status_index_enabled is false."
  value       = local.create_container_instance && var.status_index_enabled ? one([for index in aws_dynamodb_table.this["container_instance"].global_secondary_index : index.name]) : null
}

output "task_table_stream_arn" {
  description = "ARN of the task table's DynamoDB stream; null unless stream_enabled and the module creates the table."
  value       = var.create_task_table && var.stream_enabled ? aws_dynamodb_table.this["task"].stream_arn : null
}

output "container_instance_table_stream_arn" {
  description = "ARN of the container-instance table's DynamoDB stream; null unless stream_enabled and the module creates that table."
  value       = local.create_container_instance && var.stream_enabled ? aws_dynamodb_table.this["container_instance"].stream_arn : null
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
  description = "Path of the deployed function zip: function.zip in the module's directory, built by tools/package.py and committed."
  value       = local.package_path
}

output "reconciler_function_name" {
  description = "Name of the reconciler function; null when reconcile_enabled is false. Invoke it by hand to backfill right after the first apply."
  value       = var.reconcile_enabled ? aws_lambda_function.reconciler[0].function_name : null
}

output "reconciler_function_arn" {
  description = "ARN of the reconciler function; null when reconcile_enabled is false."
  value       = var.reconcile_enabled ? aws_lambda_function.reconciler[0].arn : null
}

output "reconciler_role_arn" {
  description = "ARN of the reconciler's IAM role; null when reconcile_enabled is false."
  value       = var.reconcile_enabled ? aws_iam_role.reconciler[0].arn : null
}

output "reconciler_schedule_rule_name" {
  description = "Name of the EventBridge rule that runs the reconciler on reconcile_schedule; null when reconcile_enabled is false."
  value       = var.reconcile_enabled ? aws_cloudwatch_event_rule.reconcile[0].name : null
}
