provider "aws" {
  region = "us-east-1"
}

resource "aws_sns_topic" "alerts" {
  name              = "ecs-state-web-alerts"
  kms_master_key_id = "alias/aws/sns"
}

module "ecs_state" {
  source = "../.."

  name         = "web"
  launch_type  = "EC2"
  cluster_arns = [var.cluster_arn]

  # Stopped tasks and deregistered instances expire 30 days after they stop.
  ttl_days = 30

  create_alarms        = true
  alarm_sns_topic_arns = [aws_sns_topic.alerts.arn]

  tags = {
    team = "platform"
  }
}
