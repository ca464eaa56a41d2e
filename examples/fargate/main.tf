provider "aws" {
  region = "us-east-1"
}

variable "cluster_arn" {
  description = "ARN of the Fargate ECS cluster to follow."
  type        = string
  default     = "arn:aws:ecs:us-east-1:123456789012:cluster/jobs"
}

module "ecs_state" {
  source = "../.."

  name         = "jobs"
  launch_type  = "FARGATE"
  cluster_arns = [var.cluster_arn]
}
