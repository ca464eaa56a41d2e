variable "deletion_protection_enabled" {
  type    = bool
  default = true
}

module "ecs_state" {
  source = "../../../.."

  name                        = "t-ec2"
  launch_type                 = "EC2"
  cluster_arns                = ["arn:aws:ecs:us-east-1:111122223333:cluster/default"]
  ttl_days                    = 30
  deletion_protection_enabled = var.deletion_protection_enabled
  tags                        = { team = "platform" }
}

output "module" {
  value = module.ecs_state
}
