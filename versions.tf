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
    archive = {
      source = "hashicorp/archive"
      # The module uses archive_file with `source` blocks (content and filename) only,
      # which every release since 1.x supports; 1.3.0 is the oldest release tested.
      version = ">= 1.3"
    }
  }
}
