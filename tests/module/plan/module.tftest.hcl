# Plan-level facts of the module, with mocked providers: no emulator, seconds per run.
# Applies against moto (tests/module/test_apply.py) prove what only an apply can.

# The provider validates ARNs and policy JSON even in a plan, so computed values that other
# resources consume must look like the real ones.
mock_provider "aws" {
  override_data {
    target = data.aws_caller_identity.current
    values = { account_id = "111122223333" }
  }

  override_data {
    target = data.aws_region.current
    values = { region = "us-east-1" }
  }

  override_data {
    target = data.aws_partition.current
    values = { partition = "aws" }
  }

  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }

  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::111122223333:role/mocked" }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-east-1:111122223333:log-group:mocked" }
  }

  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:us-east-1:111122223333:rule/mocked" }
  }

  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:us-east-1:111122223333:function:mocked" }
  }

  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:us-east-1:111122223333:mocked"
      url = "https://sqs.us-east-1.amazonaws.com/111122223333/mocked"
    }
  }

  mock_resource "aws_dynamodb_table" {
    defaults = { arn = "arn:aws:dynamodb:us-east-1:111122223333:table/mocked" }
  }

  override_data {
    target = data.aws_dynamodb_tables.existing
    values = { names = [] }
  }
}

variables {
  name         = "web"
  launch_type  = "EC2"
  cluster_arns = ["arn:aws:ecs:us-east-1:111122223333:cluster/web"]
}

run "ec2_defaults" {
  command = plan

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.ecs.event_pattern) == {
      source        = ["aws.ecs"]
      "detail-type" = ["ECS Task State Change", "ECS Container Instance State Change"]
      detail        = { clusterArn = ["arn:aws:ecs:us-east-1:111122223333:cluster/web"] }
    }
    error_message = "EC2 mode follows task and container-instance events of the given cluster, and never filters on launchType."
  }
  assert {
    condition     = keys(aws_dynamodb_table.this) == ["container_instance", "task"]
    error_message = "EC2 mode creates both tables."
  }
  assert {
    condition     = aws_dynamodb_table.this["task"].name == "web-tasks" && aws_dynamodb_table.this["container_instance"].name == "web-container-instances"
    error_message = "Table names derive from name."
  }
  assert {
    condition     = aws_lambda_function.this.function_name == "web-ecs-state" && aws_lambda_function.this.handler == "ecs_state.handler.lambda_handler"
    error_message = "The event function's name and handler string are part of the contract."
  }
  assert {
    condition = aws_lambda_function.this.environment[0].variables == tomap({
      LAUNCH_TYPE                   = "EC2"
      TASK_TABLE_NAME               = "web-tasks"
      CONTAINER_INSTANCE_TABLE_NAME = "web-container-instances"
      TTL_DAYS                      = "0"
      REDACT_OVERRIDES              = "true"
      LOG_LEVEL                     = "INFO"
    })
    error_message = "The event function's environment is the documented contract."
  }
  assert {
    condition     = alltrue([for table in aws_dynamodb_table.this : table.billing_mode == "PAY_PER_REQUEST" && table.deletion_protection_enabled && table.point_in_time_recovery[0].enabled])
    error_message = "Tables default to on-demand, deletion protection and point-in-time recovery."
  }
  assert {
    condition     = alltrue([for table in aws_dynamodb_table.this : !table.ttl[0].enabled && table.ttl[0].attribute_name == "_expiresAt"])
    error_message = "TTL is off by default, and keeps its attribute name (DynamoDB refuses an empty one)."
  }
  assert {
    condition     = alltrue([for table in aws_dynamodb_table.this : !table.server_side_encryption[0].enabled])
    error_message = "Without kms_key_arn the tables use DynamoDB's AWS-owned key."
  }
  assert {
    condition = [for index in aws_dynamodb_table.this["task"].global_secondary_index : [index.name, index.hash_key, index.range_key, index.projection_type]] == [
      ["cluster-status", "clusterArn", "lastStatus", "INCLUDE"]
    ]
    error_message = "The task table has the cluster-status index on clusterArn and lastStatus."
  }
  assert {
    condition = [for index in aws_dynamodb_table.this["container_instance"].global_secondary_index : [index.name, index.hash_key, index.range_key]] == [
      ["cluster-status", "clusterArn", "status"]
    ]
    error_message = "The container-instance table's index sorts by status."
  }
  assert {
    condition     = alltrue([for table in aws_dynamodb_table.this : contains(one(table.global_secondary_index).non_key_attributes, "version") && contains(one(table.global_secondary_index).non_key_attributes, "_missingSince")])
    error_message = "The index carries what the reconciler compares: version and _missingSince."
  }
  assert {
    condition     = output.task_index_name == "cluster-status" && output.container_instance_index_name == "cluster-status"
    error_message = "Index names are outputs."
  }
  assert {
    condition     = alltrue([for table in aws_dynamodb_table.this : !table.stream_enabled]) && output.task_table_stream_arn == null
    error_message = "Streams are off by default."
  }
  assert {
    condition     = jsonencode([for s in data.aws_iam_policy_document.function.statement : sort(s.actions)]) == jsonencode([["dynamodb:PutItem"], ["logs:CreateLogStream", "logs:PutLogEvents"], ["sqs:SendMessage"]])
    error_message = "The event function may only put items, write its logs and send failures to the queue."
  }
  assert {
    condition     = aws_cloudwatch_event_target.function.retry_policy[0].maximum_retry_attempts == 185 && aws_lambda_function_event_invoke_config.this.maximum_retry_attempts == 2
    error_message = "Delivery retries default to EventBridge's and Lambda's maximum."
  }
  assert {
    condition     = length(aws_sqs_queue.dead_letter) == 1 && aws_sqs_queue.dead_letter[0].name == "web-ecs-state-dlq" && aws_sqs_queue.dead_letter[0].sqs_managed_sse_enabled
    error_message = "A dead-letter queue encrypted with SQS-managed keys is created by default."
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.this) == 0
    error_message = "Alarms are opt-in."
  }
}

run "dead_letter_queue_policy_needs_no_apply_time_values" {
  command = plan

  assert {
    condition     = flatten([for s in data.aws_iam_policy_document.dead_letter.statement : [for c in s.condition : sort(c.values)] if s.sid == "EventBridgeRuleOnly"]) == ["arn:aws:events:us-east-1:111122223333:rule/web-ecs-state"]
    error_message = "The queue policy names the rule by an ARN known at plan time, so a rule change does not defer the policy."
  }
  assert {
    condition = flatten([for s in data.aws_iam_policy_document.dead_letter.statement : [for p in s.principals : sort(p.identifiers)] if s.sid == "FunctionRolesOnly"]) == [
      "arn:aws:iam::111122223333:role/web-ecs-state", "arn:aws:iam::111122223333:role/web-ecs-state-reconcile",
    ]
    error_message = "Only the module's two roles may send to the queue."
  }
}

run "reconciler_ec2_with_clusters" {
  command = plan

  assert {
    condition     = aws_lambda_function.reconciler[0].handler == "ecs_state.reconcile.lambda_handler" && aws_lambda_function.reconciler[0].filename == aws_lambda_function.this.filename
    error_message = "The reconciler runs ecs_state.reconcile.lambda_handler from the same package."
  }
  assert {
    condition     = aws_lambda_function.reconciler[0].environment[0].variables.CLUSTER_ARNS == "arn:aws:ecs:us-east-1:111122223333:cluster/web" && aws_lambda_function.reconciler[0].environment[0].variables.ECS_MAX_REQUESTS_PER_SECOND == "5" && aws_lambda_function.reconciler[0].environment[0].variables.LAUNCH_TYPE == "EC2"
    error_message = "The reconciler gets the event function's environment plus its clusters and rate cap."
  }
  assert {
    condition     = aws_cloudwatch_event_rule.reconcile[0].schedule_expression == "rate(20 minutes)"
    error_message = "The reconciler runs every 20 minutes by default."
  }
  assert {
    condition = jsonencode({ for s in data.aws_iam_policy_document.reconciler[0].statement : s.sid => sort(s.actions) }) == jsonencode({
      ListContainerInstances          = ["ecs:ListContainerInstances"]
      ListAndDescribeClusterResources = ["ecs:DescribeContainerInstances", "ecs:DescribeTasks", "ecs:ListTasks"]
      ReadAndWriteStateItems          = ["dynamodb:BatchGetItem", "dynamodb:DescribeTable", "dynamodb:PutItem", "dynamodb:UpdateItem"]
      QueryStatusIndex                = ["dynamodb:Query"]
      WriteOwnLogs                    = ["logs:CreateLogStream", "logs:PutLogEvents"]
      SendFailuresToDeadLetterQueue   = ["sqs:SendMessage"]
    })
    error_message = "The reconciler's role has exactly the ECS and DynamoDB actions it uses; no ListClusters when clusters are given."
  }
  assert {
    condition     = flatten([for s in data.aws_iam_policy_document.reconciler[0].statement : sort(s.resources) if s.sid == "ListContainerInstances"]) == ["arn:aws:ecs:us-east-1:111122223333:cluster/web"]
    error_message = "Listing is limited to the given clusters."
  }
  assert {
    condition     = flatten([for s in data.aws_iam_policy_document.reconciler[0].statement : [for c in s.condition : sort(c.values)] if s.sid == "ListAndDescribeClusterResources"]) == ["arn:aws:ecs:us-east-1:111122223333:cluster/web"]
    error_message = "Describing is limited to the given clusters through ecs:cluster."
  }
}

run "reconciler_fargate_every_cluster" {
  command = plan

  variables {
    launch_type  = "FARGATE"
    cluster_arns = []
  }

  assert {
    condition = jsonencode({ for s in data.aws_iam_policy_document.reconciler[0].statement : s.sid => sort(s.actions) }) == jsonencode({
      FindClusters                    = ["ecs:ListClusters"]
      ListAndDescribeClusterResources = ["ecs:DescribeTasks", "ecs:ListTasks"]
      ReadAndWriteStateItems          = ["dynamodb:BatchGetItem", "dynamodb:DescribeTable", "dynamodb:PutItem", "dynamodb:UpdateItem"]
      QueryStatusIndex                = ["dynamodb:Query"]
      WriteOwnLogs                    = ["logs:CreateLogStream", "logs:PutLogEvents"]
      SendFailuresToDeadLetterQueue   = ["sqs:SendMessage"]
    })
    error_message = "FARGATE touches tasks only; ListClusters only when every cluster is followed."
  }
  assert {
    condition     = flatten([for s in data.aws_iam_policy_document.reconciler[0].statement : [for c in s.condition : sort(c.values)] if s.sid == "ListAndDescribeClusterResources"]) == ["arn:aws:ecs:us-east-1:111122223333:cluster/*"]
    error_message = "Without cluster_arns the reconciler still stays in its account and region."
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.ecs.event_pattern) == { source = ["aws.ecs"], "detail-type" = ["ECS Task State Change"] }
    error_message = "FARGATE mode with no clusters follows every cluster's task events only."
  }
  assert {
    condition     = keys(aws_dynamodb_table.this) == ["task"] && output.container_instance_table_name == null && output.container_instance_index_name == null
    error_message = "FARGATE mode makes no container-instance table."
  }
  assert {
    condition     = !contains(keys(aws_lambda_function.this.environment[0].variables), "CONTAINER_INSTANCE_TABLE_NAME")
    error_message = "FARGATE mode's function has no container-instance table."
  }
}

run "reconciler_off" {
  command = plan

  variables {
    reconcile_enabled = false
  }

  assert {
    condition     = length(aws_lambda_function.reconciler) + length(aws_iam_role.reconciler) + length(aws_cloudwatch_event_rule.reconcile) + length(aws_cloudwatch_log_group.reconciler) + length(aws_lambda_permission.reconcile_schedule) == 0
    error_message = "reconcile_enabled = false plans no reconciler resources."
  }
  assert {
    condition     = flatten([for s in data.aws_iam_policy_document.dead_letter.statement : [for p in s.principals : sort(p.identifiers)] if s.sid == "FunctionRolesOnly"]) == ["arn:aws:iam::111122223333:role/web-ecs-state"]
    error_message = "Without the reconciler only the event function's role may send to the queue."
  }
}

run "index_off_streams_on_ttl_on" {
  command = plan

  variables {
    status_index_enabled = false
    stream_enabled       = true
    ttl_days             = 30
  }

  assert {
    condition     = alltrue([for table in aws_dynamodb_table.this : length(table.global_secondary_index) == 0 && length(table.attribute) == 1])
    error_message = "With the index off, tables have no index and only their key attribute."
  }
  assert {
    condition     = output.task_index_name == null && output.container_instance_index_name == null
    error_message = "No index name without an index."
  }
  assert {
    condition     = alltrue([for table in aws_dynamodb_table.this : table.stream_enabled && table.stream_view_type == "NEW_AND_OLD_IMAGES"])
    error_message = "Streams default to new and old images."
  }
  assert {
    condition     = alltrue([for table in aws_dynamodb_table.this : table.ttl[0].enabled && table.ttl[0].attribute_name == "_expiresAt"])
    error_message = "ttl_days > 0 turns TTL on over _expiresAt."
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables.TTL_DAYS == "30"
    error_message = "The function learns ttl_days."
  }
}

run "index_projections" {
  command = plan

  variables {
    status_index_projection = "KEYS_ONLY"
  }

  assert {
    condition     = alltrue([for table in aws_dynamodb_table.this : one(table.global_secondary_index).projection_type == "KEYS_ONLY" && one(table.global_secondary_index).non_key_attributes == null])
    error_message = "KEYS_ONLY projects no other attribute."
  }
}

run "provisioned_kms_alarms_own_queue" {
  command = plan

  variables {
    billing_mode             = "PROVISIONED"
    read_capacity            = 5
    write_capacity           = 2
    kms_key_arn              = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    create_alarms            = true
    create_dead_letter_queue = false
    dead_letter_queue_arn    = "arn:aws:sqs:us-east-1:111122223333:platform-dlq"
    tracing_enabled          = true
  }

  assert {
    condition     = alltrue([for table in aws_dynamodb_table.this : table.read_capacity == 5 && table.write_capacity == 2 && one(table.global_secondary_index).read_capacity == 5 && one(table.global_secondary_index).write_capacity == 2])
    error_message = "Provisioned capacity applies to the tables and their index."
  }
  assert {
    condition     = alltrue([for table in aws_dynamodb_table.this : table.server_side_encryption[0].enabled && table.server_side_encryption[0].kms_key_arn == var.kms_key_arn])
    error_message = "kms_key_arn encrypts the tables."
  }
  assert {
    condition     = aws_cloudwatch_log_group.function.kms_key_id == var.kms_key_arn && aws_lambda_function.this.kms_key_arn == var.kms_key_arn
    error_message = "kms_key_arn encrypts the log group and the function's environment."
  }
  assert {
    condition     = jsonencode(sort([for s in data.aws_iam_policy_document.features.statement : s.sid])) == jsonencode(["UseKeyThroughDynamoDBAndSQS", "XRayTraces"]) && data.aws_iam_policy_document.function.source_policy_documents == data.aws_iam_policy_document.reconciler[0].source_policy_documents
    error_message = "KMS and X-Ray permissions appear with their features, in both roles' policies."
  }
  assert {
    condition     = length(aws_sqs_queue.dead_letter) == 0 && length(aws_sqs_queue_policy.dead_letter) == 0 && output.dead_letter_queue_arn == "arn:aws:sqs:us-east-1:111122223333:platform-dlq" && output.dead_letter_queue_url == null
    error_message = "A given queue is used as it is."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.this["dlq-messages"].dimensions.QueueName == "platform-dlq"
    error_message = "The queue alarm finds a given queue by the name in its ARN."
  }
  assert {
    condition     = jsonencode(sort(keys(aws_cloudwatch_metric_alarm.this))) == jsonencode(["dlq-messages", "errors", "reconciler-errors"])
    error_message = "create_alarms alarms on both functions and on the queue."
  }
}

# ---- Every invalid input fails at plan, on the variable or check that names it ----


run "bad_name" {
  command = plan
  variables { name = "has spaces" }
  expect_failures = [var.name]
}

run "bad_launch_type" {
  command = plan
  variables { launch_type = "EXTERNAL" }
  expect_failures = [var.launch_type]
}

run "bad_cluster_arn" {
  command = plan
  variables { cluster_arns = ["web"] }
  expect_failures = [var.cluster_arns]
}

run "cluster_in_other_region_warns" {
  command = plan
  variables { cluster_arns = ["arn:aws:ecs:eu-west-1:111122223333:cluster/web"] }
  expect_failures = [check.cluster_arns_in_this_account_and_region]
}

run "cluster_in_other_account_warns" {
  command = plan
  variables { cluster_arns = ["arn:aws:ecs:us-east-1:999999999999:cluster/web"] }
  expect_failures = [check.cluster_arns_in_this_account_and_region]
}

run "existing_task_table_needs_a_name" {
  command = plan
  variables { create_task_table = false }
  expect_failures = [var.task_table_name]
}

run "container_instance_table_name_on_fargate" {
  command = plan
  variables {
    launch_type                   = "FARGATE"
    container_instance_table_name = "instances"
  }
  expect_failures = [var.container_instance_table_name]
}

run "provisioned_needs_capacity" {
  command = plan
  variables { billing_mode = "PROVISIONED" }
  expect_failures = [var.read_capacity, var.write_capacity]
}

run "ttl_out_of_range" {
  command = plan
  variables { ttl_days = 3651 }
  expect_failures = [var.ttl_days]
}

run "ttl_below_queue_retention" {
  command = plan
  variables { ttl_days = 14 }
  expect_failures = [var.ttl_days]
}

run "ttl_above_a_shorter_queue_retention" {
  command = plan
  variables {
    ttl_days                            = 2
    dead_letter_queue_retention_seconds = 86400
  }
  assert {
    condition     = aws_dynamodb_table.this["task"].ttl[0].enabled
    error_message = "ttl_days above the queue's retention in days is accepted."
  }
}

run "queue_given_and_created" {
  command = plan
  variables { dead_letter_queue_arn = "arn:aws:sqs:us-east-1:111122223333:mine" }
  expect_failures = [var.dead_letter_queue_arn]
}

run "bad_log_level" {
  command = plan
  variables { log_level = "TRACE" }
  expect_failures = [var.log_level]
}

run "bad_projection" {
  command = plan
  variables { status_index_projection = "SOME" }
  expect_failures = [var.status_index_projection]
}

run "bad_schedule" {
  command = plan
  variables { reconcile_schedule = "every 20 minutes" }
  expect_failures = [var.reconcile_schedule]
}

run "reconcile_rate_above_the_ecs_bucket" {
  command = plan
  variables { reconcile_max_requests_per_second = 25 }
  expect_failures = [var.reconcile_max_requests_per_second]
}

run "bad_runtime" {
  command = plan
  variables { runtime = "python3.9" }
  expect_failures = [var.runtime]
}

# ---- Switching a cluster from EC2 to FARGATE must not plan the deletion of a protected table full of state, nor leave the rule and the function disagreeing: it is refused at plan. ----


run "protected_table_left_by_ec2_is_refused" {
  command = plan

  variables {
    launch_type = "FARGATE"
  }

  override_data {
    target = data.aws_dynamodb_tables.existing
    values = { names = ["web-tasks", "web-container-instances"] }
  }

  override_data {
    target = data.aws_dynamodb_table.previous_container_instance
    values = { deletion_protection_enabled = true }
  }

  expect_failures = [aws_cloudwatch_event_rule.ecs]
}

run "unprotected_table_may_go" {
  command = plan

  variables {
    launch_type = "FARGATE"
  }

  override_data {
    target = data.aws_dynamodb_tables.existing
    values = { names = ["web-tasks", "web-container-instances"] }
  }

  override_data {
    target = data.aws_dynamodb_table.previous_container_instance
    values = { deletion_protection_enabled = false }
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.ecs.event_pattern)["detail-type"] == ["ECS Task State Change"]
    error_message = "Once the user has lifted the protection, the switch plans."
  }
}

run "table_kept_outside_the_module" {
  command = plan

  variables {
    launch_type                     = "FARGATE"
    create_container_instance_table = false
  }

  override_data {
    target = data.aws_dynamodb_tables.existing
    values = { names = ["web-tasks", "web-container-instances"] }
  }

  assert {
    condition     = length(data.aws_dynamodb_table.previous_container_instance) == 0
    error_message = "create_container_instance_table = false says the table is no longer the module's: no look-up, no refusal."
  }
}
