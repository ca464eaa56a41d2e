terraform {
  # 1.9 (Terraform) / 1.8 (OpenTofu): variable validations may refer to other variables,
  # which is how contradictory table options are refused at plan time.
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.0: data.aws_region's `region` attribute (`name` is deprecated there).
      version = ">= 6.0"
    }
  }
}
