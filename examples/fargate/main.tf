provider "aws" {
  region = "us-east-1"
}

module "ecs_state" {
  source = "../.."

  name         = "jobs"
  launch_type  = "FARGATE"
  cluster_arns = [var.cluster_arn]
}
