# Passes variables straight through, so tests can plan the module with bad values.
variable "launch_type" {
  type    = string
  default = "EC2"
}

variable "cluster_arns" {
  type    = list(string)
  default = []
}

variable "create_task_table" {
  type    = bool
  default = true
}

variable "container_instance_table_name" {
  type    = string
  default = null
}

variable "billing_mode" {
  type    = string
  default = "PAY_PER_REQUEST"
}

variable "create_dead_letter_queue" {
  type    = bool
  default = true
}

variable "ttl_days" {
  type    = number
  default = 0
}

variable "create_alarms" {
  type    = bool
  default = false
}

module "ecs_state" {
  source = "../../../.."

  name                          = "t-validation"
  launch_type                   = var.launch_type
  cluster_arns                  = var.cluster_arns
  create_task_table             = var.create_task_table
  container_instance_table_name = var.container_instance_table_name
  billing_mode                  = var.billing_mode
  create_dead_letter_queue      = var.create_dead_letter_queue
  create_alarms                 = var.create_alarms
  ttl_days                      = var.ttl_days
  alarm_sns_topic_arns          = ["arn:aws:sns:us-east-1:123456789012:ops"]
}
