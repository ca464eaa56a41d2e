# Provider settings for the local emulators (moto's server). Endpoints come from the
# AWS_ENDPOINT_URL environment variable that the test harness sets; every look-up that
# would otherwise wait on real AWS (credentials, account id, region list, instance
# metadata) is skipped.
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = true
}
