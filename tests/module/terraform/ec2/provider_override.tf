# Merged into provider.tf (the shared emulator settings) for this fixture only: its root
# module tags the module's tables (to prove the outputs wait for them); that tag is the
# root module's, not drift of the module's tables.
provider "aws" {
  ignore_tags {
    keys = ["consumer"]
  }
}
