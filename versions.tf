terraform {
  # 1.9 (Terraform) / 1.8 (OpenTofu): variable validations may refer to other variables,
  # which is how contradictory table options are refused at plan time. `make test`
  # applies both modes with Terraform 1.9.0 and OpenTofu 1.9.0.
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.0: data.aws_region's `region` attribute (`name` is deprecated there). Only
      # 6.47.1 is tested: 6.0.x could not be built offline (README, "Versions").
      version = ">= 6.0"
    }
  }
}
