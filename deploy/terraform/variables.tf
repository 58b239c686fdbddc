variable "region" {
  description = "AWS region of the fleet."
  type        = string
  default     = "eu-central-1"
}

variable "name" {
  description = "Prefix of every resource's name."
  type        = string
  default     = "ambisonia"
}

variable "vpc_id" {
  description = "The VPC the fleet runs in."
  type        = string
}

variable "private_subnet_ids" {
  description = "Subnets (two or more zones) for the app replicas, RDS and ElastiCache."
  type        = list(string)
}

variable "public_subnet_ids" {
  description = "Subnets for the balancers (they get public addresses)."
  type        = list(string)
}

variable "ami_id" {
  description = "A Debian 12 AMI for the region (amd64)."
  type        = string
}

variable "public_url" {
  description = "The address visitors use, such as https://ambisonia.org (DNS points at the balancers)."
  type        = string
  validation {
    condition     = startswith(var.public_url, "https://")
    error_message = "public_url must be https://…: the balancers serve HTTPS (ACME) and log-in cookies are Secure."
  }
}

variable "domain_names" {
  description = "The host names the balancers obtain certificates for (ACME HTTP-01: DNS must point them at the balancers)."
  type        = list(string)
}

variable "acme_contact" {
  description = "The address the certificate authority writes to about the ACME account (expiry warnings)."
  type        = string
}

variable "monitoring_security_group_ids" {
  description = "Security groups of the Prometheus servers allowed to scrape /metrics (none: no access)."
  type        = list(string)
  default     = []
}

variable "release_bucket" {
  description = "The bucket the release binary is uploaded to (scripts/release-split builds it)."
  type        = string
}

variable "release_key" {
  description = "The binary's key in the release bucket; a new key and an instance refresh roll it out."
  type        = string
  default     = "releases/server"
}

variable "media_bucket" {
  description = "The bucket for recordings, previews and pictures (created here)."
  type        = string
}

variable "app_instance_type" {
  type    = string
  default = "c7i.large"
}

variable "balancer_instance_type" {
  type    = string
  default = "c7i.large"
}

variable "app_min" {
  type    = number
  default = 2
}

variable "app_max" {
  type    = number
  default = 6
}

variable "app_port" {
  type    = number
  default = 3000
}

variable "balancer_count" {
  type    = number
  default = 2
}

variable "db_instance_class" {
  type    = string
  default = "db.m7g.large"
}

variable "redis_node_type" {
  type    = string
  default = "cache.t4g.small"
}

variable "stripe_secret_key" {
  description = "Stripe's secret key (empty: payments off). Kept in SSM Parameter Store."
  type        = string
  default     = ""
  sensitive   = true
}

variable "stripe_webhook_secret" {
  type      = string
  default   = ""
  sensitive = true
}
