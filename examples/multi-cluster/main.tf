provider "aws" {
  region = "us-east-1"
}

# One instance per cluster, each with its own launch type, function and rule. The EC2
# instance creates the task table; the Fargate instance writes its tasks into it too.
module "web" {
  source = "../.."

  name            = "web"
  launch_type     = "EC2"
  cluster_arns    = [var.web_cluster_arn]
  task_table_name = "ecs-tasks"
}

module "jobs" {
  source = "../.."

  name              = "jobs"
  launch_type       = "FARGATE"
  cluster_arns      = [var.jobs_cluster_arn]
  create_task_table = false
  task_table_name   = module.web.task_table_name
}
