variable "web_cluster_arn" {
  description = "ARN of the EC2-backed cluster."
  type        = string
  default     = "arn:aws:ecs:us-east-1:123456789012:cluster/web"
}

variable "jobs_cluster_arn" {
  description = "ARN of the Fargate cluster."
  type        = string
  default     = "arn:aws:ecs:us-east-1:123456789012:cluster/jobs"
}
