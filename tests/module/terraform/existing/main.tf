# Tables made outside this configuration (the test creates them first), given by name.
module "ecs_state" {
  source = "../../../.."

  name                            = "t-existing"
  launch_type                     = "EC2"
  create_task_table               = false
  task_table_name                 = "legacy-tasks"
  create_container_instance_table = false
  container_instance_table_name   = "legacy-instances"
}

output "module" {
  value = module.ecs_state
}
