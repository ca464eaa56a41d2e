# ---------------------------------------------------------------------------------------
# Identity
# ---------------------------------------------------------------------------------------
variable "name" {
  description = "Prefix of every resource name (table, function, role, rule, queue, log group). One instance per cluster usually includes the cluster's name."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$", var.name))
    error_message = "name must be 1-40 characters of letters, digits, '-' or '_', starting with a letter or digit, so that every derived resource name stays within AWS limits."
  }
}

variable "tags" {
  description = "Tags applied to every resource that accepts tags."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------
# What to listen to
# ---------------------------------------------------------------------------------------
variable "launch_type" {
  description = "Which code path the function runs: EC2 stores tasks and container instances, FARGATE stores tasks only (and no container-instance table is made)."
  type        = string

  validation {
    condition     = contains(["EC2", "FARGATE"], var.launch_type)
    error_message = "launch_type must be \"EC2\" or \"FARGATE\"."
  }
}

variable "cluster_arns" {
  description = "ARNs of the ECS clusters whose events are kept. Empty means every cluster of the account and region."
  type        = list(string)
  default     = []

  validation {
    condition = alltrue([
      for arn in var.cluster_arns : can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/[A-Za-z0-9_-]{1,255}$", arn))
    ])
    error_message = "Every entry of cluster_arns must be an ECS cluster ARN such as arn:aws:ecs:us-east-1:123456789012:cluster/my-cluster; not: ${join(", ", [for arn in var.cluster_arns : jsonencode(arn) if !can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/[A-Za-z0-9_-]{1,255}$", arn))])}."
  }
}

variable "event_bus_name" {
  description = "EventBridge bus that receives the ECS events. ECS publishes to the default bus."
  type        = string
  default     = "default"
}

# ---------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------
variable "create_task_table" {
  description = "Create the task table. Set to false and give task_table_name to use an existing table, for example one shared by several instances of this module."
  type        = bool
  default     = true
}

variable "task_table_name" {
  description = "Name of the task table (partition key taskArn, a string). Defaults to \"<name>-tasks\". Required when create_task_table is false. \"ECSTaskState\" reproduces the AWS documentation example."
  type        = string
  default     = null

  validation {
    condition     = var.task_table_name != null || var.create_task_table
    error_message = "task_table_name must be set when create_task_table is false: there is no table to write to."
  }
  validation {
    condition     = var.task_table_name == null || can(regex("^[A-Za-z0-9_.-]{3,255}$", var.task_table_name))
    error_message = "task_table_name must be 3-255 characters of letters, digits, '_', '-' or '.'."
  }
}

variable "create_container_instance_table" {
  description = "Create the container-instance table (EC2 only). Set to false and give container_instance_table_name to use an existing table."
  type        = bool
  default     = true
}

variable "container_instance_table_name" {
  description = "Name of the container-instance table (partition key containerInstanceArn, a string), EC2 only. Defaults to \"<name>-container-instances\". \"ECSCtrInstanceState\" reproduces the AWS documentation example."
  type        = string
  default     = null

  validation {
    condition     = var.container_instance_table_name == null || var.launch_type == "EC2"
    error_message = "container_instance_table_name is only used when launch_type is \"EC2\"; FARGATE keeps tasks only."
  }
  validation {
    condition     = var.container_instance_table_name != null || var.create_container_instance_table || var.launch_type != "EC2"
    error_message = "container_instance_table_name must be set when create_container_instance_table is false and launch_type is \"EC2\"."
  }
  validation {
    condition     = var.container_instance_table_name == null || can(regex("^[A-Za-z0-9_.-]{3,255}$", var.container_instance_table_name))
    error_message = "container_instance_table_name must be 3-255 characters of letters, digits, '_', '-' or '.'."
  }
}

variable "billing_mode" {
  description = "Billing mode of the tables this module creates: PAY_PER_REQUEST (on-demand) or PROVISIONED (then set read_capacity and write_capacity)."
  type        = string
  default     = "PAY_PER_REQUEST"

  validation {
    condition     = contains(["PAY_PER_REQUEST", "PROVISIONED"], var.billing_mode)
    error_message = "billing_mode must be \"PAY_PER_REQUEST\" or \"PROVISIONED\"."
  }
}

variable "read_capacity" {
  description = "Read capacity units of each created table when billing_mode is PROVISIONED. The function never reads; readers of the tables need this."
  type        = number
  default     = null

  validation {
    condition     = (var.billing_mode == "PROVISIONED") == (var.read_capacity != null)
    error_message = "read_capacity must be set when billing_mode is \"PROVISIONED\", and only then."
  }
  validation {
    condition     = var.read_capacity == null || try(var.read_capacity >= 1 && floor(var.read_capacity) == var.read_capacity, false)
    error_message = "read_capacity must be a whole number of at least 1."
  }
}

variable "write_capacity" {
  description = "Write capacity units of each created table when billing_mode is PROVISIONED. One event costs one write of up to 1 KB."
  type        = number
  default     = null

  validation {
    condition     = (var.billing_mode == "PROVISIONED") == (var.write_capacity != null)
    error_message = "write_capacity must be set when billing_mode is \"PROVISIONED\", and only then."
  }
  validation {
    condition     = var.write_capacity == null || try(var.write_capacity >= 1 && floor(var.write_capacity) == var.write_capacity, false)
    error_message = "write_capacity must be a whole number of at least 1."
  }
}

variable "point_in_time_recovery_enabled" {
  description = "Enable point-in-time recovery on the tables this module creates."
  type        = bool
  default     = true
}

variable "deletion_protection_enabled" {
  description = "Enable deletion protection on the tables this module creates. Turn it off (and apply) before destroying them, or before switching launch_type from EC2 to FARGATE deletes the container-instance table."
  type        = bool
  default     = true
}

variable "ttl_days" {
  description = "Days after which a terminal record (task STOPPED or DELETED, container instance INACTIVE or REGISTRATION_FAILED) expires through DynamoDB TTL. 0 keeps records forever. Keep it above the dead-letter queue's retention so that a redrive always lands inside the window."
  type        = number
  default     = 0

  validation {
    condition     = var.ttl_days >= 0 && var.ttl_days <= 3650 && floor(var.ttl_days) == var.ttl_days
    error_message = "ttl_days must be a whole number from 0 (off) to 3650."
  }
  validation {
    # A redrive replays events up to the queue's retention old; an event older than the TTL
    # window may update a record but never create one (see the README's retention section).
    condition     = var.ttl_days == 0 || !var.create_dead_letter_queue || var.ttl_days > ceil(var.dead_letter_queue_retention_seconds / 86400)
    error_message = "ttl_days (${var.ttl_days}) must be above the dead-letter queue's retention (${ceil(var.dead_letter_queue_retention_seconds / 86400)} days, rounded up), so that a redriven event always lands inside the TTL window; raise ttl_days or lower dead_letter_queue_retention_seconds."
  }
}

variable "kms_key_arn" {
  description = "ARN of a customer-managed KMS key used for the tables, the log groups, the dead-letter queue and the functions' environment. Null uses AWS-owned or AWS-managed keys. The key policy must allow CloudWatch Logs and EventBridge (see the README's \"Customer-managed KMS key\" section)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN such as arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab."
  }
}

variable "status_index_enabled" {
  description = "Add a global secondary index (partition key clusterArn, sort key lastStatus for tasks and status for container instances) to the tables this module creates, so readers can list a cluster's resources by status without a Scan. The reconciler uses it too."
  type        = bool
  default     = true
}

variable "status_index_projection" {
  description = "What the status index copies from each item: INCLUDE (the attributes a listing shows, the default: see the README's projection cost table), KEYS_ONLY (cheapest writes; readers fetch each item) or ALL (each write copies the whole item)."
  type        = string
  default     = "INCLUDE"

  validation {
    condition     = contains(["INCLUDE", "KEYS_ONLY", "ALL"], var.status_index_projection)
    error_message = "status_index_projection must be \"INCLUDE\", \"KEYS_ONLY\" or \"ALL\"."
  }
}

variable "stream_enabled" {
  description = "Enable DynamoDB Streams on the tables this module creates, for consumers of state changes (stream ARNs are outputs)."
  type        = bool
  default     = false
}

variable "stream_view_type" {
  description = "What each stream record holds when stream_enabled is true: NEW_AND_OLD_IMAGES, NEW_IMAGE, OLD_IMAGE or KEYS_ONLY."
  type        = string
  default     = "NEW_AND_OLD_IMAGES"

  validation {
    condition     = contains(["NEW_AND_OLD_IMAGES", "NEW_IMAGE", "OLD_IMAGE", "KEYS_ONLY"], var.stream_view_type)
    error_message = "stream_view_type must be one of NEW_AND_OLD_IMAGES, NEW_IMAGE, OLD_IMAGE, KEYS_ONLY."
  }
}

# ---------------------------------------------------------------------------------------
# Function
# ---------------------------------------------------------------------------------------
variable "runtime" {
  description = "Lambda Python runtime. python3.14 needs hashicorp/aws 6.21.0 or later."
  type        = string
  default     = "python3.13"

  validation {
    condition     = contains(["python3.11", "python3.12", "python3.13", "python3.14"], var.runtime)
    error_message = "runtime must be one of python3.11, python3.12, python3.13, python3.14."
  }
}

variable "architecture" {
  description = "Instruction set of the function: arm64 (cheaper per GB-second) or x86_64."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be \"arm64\" or \"x86_64\"."
  }
}

variable "memory_size" {
  description = "Memory of the function in MB. 128 is ample: one event is a few KB."
  type        = number
  default     = 128

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB from 128 to 10240."
  }
}

variable "timeout" {
  description = "Function timeout in seconds. The default covers the worst case of the function's DynamoDB retries (5 attempts with backoff), so an exhausted invocation fails with an error rather than a timeout."
  type        = number
  default     = 60

  validation {
    condition     = var.timeout >= 3 && var.timeout <= 900 && floor(var.timeout) == var.timeout
    error_message = "timeout must be a whole number of seconds from 3 to 900."
  }
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency of the function; null leaves it unreserved. A cap protects a provisioned table from bursts; throttled events are retried by Lambda."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrent_executions == null || try(var.reserved_concurrent_executions >= 0 && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions, false)
    error_message = "reserved_concurrent_executions must be null or a whole number of at least 0."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "log_level" {
  description = "Log level of the function: DEBUG, INFO, WARNING or ERROR. DEBUG logs each event's detail with override values redacted."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING, ERROR."
  }
}

variable "redact_overrides" {
  description = "Replace the values of container environment overrides before storing a task, since they can carry secrets. Names are kept."
  type        = bool
  default     = true
}

variable "tracing_enabled" {
  description = "Enable AWS X-Ray active tracing on the function."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------------------
# Reconciler
# ---------------------------------------------------------------------------------------
variable "reconcile_enabled" {
  description = "Create the reconciler: a second function from the same package that, on a schedule, reads the clusters' tasks (and container instances) from the ECS API and writes what the tables miss or hold older, through the same versioned write as events. It backfills what existed before the module was applied and repairs events lost for good."
  type        = bool
  default     = true
}

variable "reconcile_schedule" {
  description = "When the reconciler runs: an EventBridge schedule expression."
  type        = string
  default     = "rate(20 minutes)"

  validation {
    condition     = can(regex("^(rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)|cron\\(.+\\))$", var.reconcile_schedule))
    error_message = "reconcile_schedule must be a schedule expression such as \"rate(20 minutes)\" or \"cron(0/20 * * * ? *)\"."
  }
}

variable "reconcile_max_requests_per_second" {
  description = "Cap on the reconciler's own ECS API request rate. ListTasks, DescribeTasks, ListContainerInstances and DescribeContainerInstances share one per-account bucket (about 20 requests per second sustained) with every other caller in the account, so keep it well below that."
  type        = number
  default     = 5

  validation {
    condition     = var.reconcile_max_requests_per_second > 0 && var.reconcile_max_requests_per_second <= 20
    error_message = "reconcile_max_requests_per_second must be above 0 and at most 20 (the ECS API's sustained rate for the account)."
  }
}

variable "reconcile_timeout" {
  description = "Reconciler timeout in seconds. A run stops cleanly before it and the next run continues, so a large account converges over several runs."
  type        = number
  default     = 300

  validation {
    condition     = var.reconcile_timeout >= 30 && var.reconcile_timeout <= 900 && floor(var.reconcile_timeout) == var.reconcile_timeout
    error_message = "reconcile_timeout must be a whole number of seconds from 30 to 900."
  }
}

# ---------------------------------------------------------------------------------------
# Delivery and failures
# ---------------------------------------------------------------------------------------
variable "target_maximum_retry_attempts" {
  description = "How many times EventBridge retries delivering an event to the function before sending it to the dead-letter queue."
  type        = number
  default     = 185

  validation {
    condition     = var.target_maximum_retry_attempts >= 0 && var.target_maximum_retry_attempts <= 185 && floor(var.target_maximum_retry_attempts) == var.target_maximum_retry_attempts
    error_message = "target_maximum_retry_attempts must be a whole number from 0 to 185."
  }
}

variable "target_maximum_event_age_seconds" {
  description = "How long EventBridge keeps retrying delivery of an event, in seconds."
  type        = number
  default     = 86400

  validation {
    condition     = var.target_maximum_event_age_seconds >= 60 && var.target_maximum_event_age_seconds <= 86400
    error_message = "target_maximum_event_age_seconds must be from 60 to 86400."
  }
}

variable "lambda_maximum_retry_attempts" {
  description = "How many times Lambda retries a failed asynchronous invocation before sending it to the dead-letter queue."
  type        = number
  default     = 2

  validation {
    condition     = contains([0, 1, 2], var.lambda_maximum_retry_attempts)
    error_message = "lambda_maximum_retry_attempts must be 0, 1 or 2."
  }
}

variable "lambda_maximum_event_age_seconds" {
  description = "How long Lambda keeps an asynchronous invocation queued or retrying, in seconds."
  type        = number
  default     = 21600

  validation {
    condition     = var.lambda_maximum_event_age_seconds >= 60 && var.lambda_maximum_event_age_seconds <= 21600
    error_message = "lambda_maximum_event_age_seconds must be from 60 to 21600."
  }
}

variable "create_dead_letter_queue" {
  description = "Create the SQS dead-letter queue that receives events EventBridge could not deliver and invocations Lambda could not complete. Set to false and give dead_letter_queue_arn to use your own."
  type        = bool
  default     = true
}

variable "dead_letter_queue_arn" {
  description = "ARN of an existing SQS queue to use as the dead-letter queue when create_dead_letter_queue is false. Its policy must let this rule (events.amazonaws.com) send messages."
  type        = string
  default     = null

  validation {
    condition     = (var.dead_letter_queue_arn == null) == var.create_dead_letter_queue
    error_message = "Set dead_letter_queue_arn exactly when create_dead_letter_queue is false: the module needs one dead-letter queue, created or given."
  }
  validation {
    condition     = var.dead_letter_queue_arn == null || can(regex("^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,80}$", var.dead_letter_queue_arn))
    error_message = "dead_letter_queue_arn must be an SQS queue ARN such as arn:aws:sqs:us-east-1:123456789012:my-dlq."
  }
}

variable "dead_letter_queue_retention_seconds" {
  description = "How long the created dead-letter queue keeps a message, in seconds (at most 14 days)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dead_letter_queue_retention_seconds >= 60 && var.dead_letter_queue_retention_seconds <= 1209600
    error_message = "dead_letter_queue_retention_seconds must be from 60 to 1209600 (14 days)."
  }
}

# ---------------------------------------------------------------------------------------
# Alarms
# ---------------------------------------------------------------------------------------
variable "create_alarms" {
  description = "Create CloudWatch alarms on function errors (event function and reconciler) and on messages in the dead-letter queue."
  type        = bool
  default     = false
}

variable "alarm_sns_topic_arns" {
  description = "SNS topics notified when an alarm fires or recovers."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.alarm_sns_topic_arns : can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", arn))])
    error_message = "Every entry of alarm_sns_topic_arns must be an SNS topic ARN."
  }
}
