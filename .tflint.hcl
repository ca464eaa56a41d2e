# tflint's Terraform language rules, every one of them, as a gate of `make lint` over the
# module and each example. The ruleset is the one bundled in the pinned tflint
# (tools/bootstrap.sh), so no plugin is downloaded.
config {
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}
