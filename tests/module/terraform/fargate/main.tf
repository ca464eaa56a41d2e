module "ecs_state" {
  source = "../../../.."

  name                        = "t-fargate"
  launch_type                 = "FARGATE"
  deletion_protection_enabled = false
  architecture                = "x86_64"
  tracing_enabled             = true
}

output "module" {
  value = module.ecs_state
}
