variable "clusters" {
  description = "The clusters to follow, by the name their instance of the module takes."
  type = map(object({
    arn         = string
    launch_type = string
  }))
  default = {
    web  = { arn = "arn:aws:ecs:us-east-1:123456789012:cluster/web", launch_type = "EC2" }
    jobs = { arn = "arn:aws:ecs:us-east-1:123456789012:cluster/jobs", launch_type = "FARGATE" }
  }
}
