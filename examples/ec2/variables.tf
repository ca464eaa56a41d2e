variable "cluster_arn" {
  description = "ARN of the EC2-backed ECS cluster to follow."
  type        = string
  default     = "arn:aws:ecs:us-east-1:123456789012:cluster/web"
}
