provider "aws" {
  region = "us-east-1"
}

# The table names and item shape of the AWS documentation example, so readers built for
# that example keep working while writes become order-safe.
module "ecs_state" {
  source = "../.."

  name                          = "ecs-state"
  launch_type                   = "EC2"
  task_table_name               = "ECSTaskState"
  container_instance_table_name = "ECSCtrInstanceState"
}
