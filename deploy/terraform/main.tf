# The fleet on EC2 (deploy/README.md): app replicas in an Auto Scaling group (launch
# template with IMDSv2 required, rolled by instance refresh), balancer instances in front
# (HTTPS by ACME), RDS PostgreSQL with a read replica, ElastiCache Redis for the
# invalidation bus, and the media bucket. Secrets live in SSM Parameter Store, split by who
# may read them (app/, balancer/, shared/); instances read them at boot. Least privilege:
# the balancers' role reads only balancer/ and shared/ parameters and the bucket's acme/
# and fleet/app/ prefixes, and their database login reads only the invalidation log.
# scripts/check-deploy checks these rules statically.

data "aws_vpc" "this" {
  id = var.vpc_id
}

locals {
  param_prefix = "/${var.name}"
  app_user_data = templatefile("${path.module}/../cloud-init/app.yaml", {
    app_unit_b64   = filebase64("${path.module}/../ambisonia-app.service")
    release_bucket = var.release_bucket
    release_key    = var.release_key
    region         = var.region
    param_prefix   = local.param_prefix
    public_url     = var.public_url
    app_port       = var.app_port
    media_bucket   = var.media_bucket
    vpc_cidr       = data.aws_vpc.this.cidr_block
    register_b64   = filebase64("${path.module}/../register-replica")
  })
  balancer_user_data = templatefile("${path.module}/../cloud-init/balancer.yaml", {
    balancer_unit_b64     = filebase64("${path.module}/../ambisonia-balancer.service")
    refresh_upstreams_b64 = filebase64("${path.module}/../refresh-upstreams")
    release_bucket        = var.release_bucket
    release_key           = var.release_key
    region                = var.region
    param_prefix          = local.param_prefix
    app_port              = var.app_port
    media_bucket          = var.media_bucket
    domain_names          = jsonencode(var.domain_names)
    acme_contact          = jsonencode(["mailto:${var.acme_contact}"])
  })
  # Every database URL checks the server's certificate against the RDS CA bundle.
  db_tls = "sslmode=verify-full&sslrootcert=/etc/ambisonia/rds-ca.pem"
  # The ports /metrics is scraped on (the app's --metrics-listen, the balancer's admin).
  app_metrics_port      = 9902
  balancer_metrics_port = 9901
}

# ----- network -----------------------------------------------------------------------

resource "aws_security_group" "balancer" {
  name   = "${var.name}-balancer"
  vpc_id = var.vpc_id
  ingress {
    from_port   = 80
    to_port     = 80
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  ingress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  dynamic "ingress" {
    for_each = length(var.monitoring_security_group_ids) > 0 ? [1] : []
    content {
      description     = "Prometheus scraping the admin listener's /metrics"
      from_port       = local.balancer_metrics_port
      to_port         = local.balancer_metrics_port
      protocol        = "tcp"
      security_groups = var.monitoring_security_group_ids
    }
  }
  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group" "app" {
  name   = "${var.name}-app"
  vpc_id = var.vpc_id
  ingress {
    from_port       = var.app_port
    to_port         = var.app_port
    protocol        = "tcp"
    security_groups = [aws_security_group.balancer.id]
  }
  dynamic "ingress" {
    for_each = length(var.monitoring_security_group_ids) > 0 ? [1] : []
    content {
      description     = "Prometheus scraping /metrics"
      from_port       = local.app_metrics_port
      to_port         = local.app_metrics_port
      protocol        = "tcp"
      security_groups = var.monitoring_security_group_ids
    }
  }
  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group" "data" {
  name   = "${var.name}-data"
  vpc_id = var.vpc_id
  ingress {
    description     = "PostgreSQL from replicas and balancers (the bus log)"
    from_port       = 5432
    to_port         = 5432
    protocol        = "tcp"
    security_groups = [aws_security_group.app.id, aws_security_group.balancer.id]
  }
  ingress {
    description     = "Redis (the bus) from replicas and balancers"
    from_port       = 6379
    to_port         = 6379
    protocol        = "tcp"
    security_groups = [aws_security_group.app.id, aws_security_group.balancer.id]
  }
}

# ----- data: PostgreSQL (primary + read replica), Redis, the media bucket --------------

resource "random_password" "db" {
  length  = 32
  special = false
}

resource "random_password" "redis" {
  length  = 48
  special = false
}

resource "random_password" "bus_reader" {
  length  = 32
  special = false
}

# Connections without TLS are refused by the server itself.
resource "aws_db_parameter_group" "tls" {
  name   = "${var.name}-tls"
  family = "postgres15"
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
}

resource "aws_db_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.private_subnet_ids
}

resource "aws_db_instance" "primary" {
  identifier                = "${var.name}-primary"
  engine                    = "postgres"
  engine_version            = "15"
  instance_class            = var.db_instance_class
  allocated_storage         = 100
  storage_encrypted         = true
  db_name                   = "ambisonia"
  username                  = "ambisonia"
  password                  = random_password.db.result
  db_subnet_group_name      = aws_db_subnet_group.this.name
  vpc_security_group_ids    = [aws_security_group.data.id]
  parameter_group_name      = aws_db_parameter_group.tls.name
  multi_az                  = true
  backup_retention_period   = 7
  deletion_protection       = true
  final_snapshot_identifier = "${var.name}-final"
}

resource "aws_db_instance" "replica" {
  identifier             = "${var.name}-replica"
  replicate_source_db    = aws_db_instance.primary.identifier
  instance_class         = var.db_instance_class
  storage_encrypted      = true
  vpc_security_group_ids = [aws_security_group.data.id]
  parameter_group_name   = aws_db_parameter_group.tls.name
  skip_final_snapshot    = true
}

resource "aws_elasticache_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.private_subnet_ids
}

resource "aws_elasticache_replication_group" "bus" {
  replication_group_id       = "${var.name}-bus"
  description                = "Ambisonia's invalidation bus (a Redis stream)"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = var.redis_node_type
  num_cache_clusters         = 2
  automatic_failover_enabled = true
  subnet_group_name          = aws_elasticache_subnet_group.this.name
  security_group_ids         = [aws_security_group.data.id]
  transit_encryption_enabled = true
  at_rest_encryption_enabled = true
  auth_token                 = random_password.redis.result
}

resource "aws_s3_bucket" "media" {
  bucket = var.media_bucket
}

resource "aws_s3_bucket_public_access_block" "media" {
  bucket                  = aws_s3_bucket.media.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "media" {
  bucket = aws_s3_bucket.media.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

# A wrong delete is not final: old versions stay 30 days.
resource "aws_s3_bucket_versioning" "media" {
  bucket = aws_s3_bucket.media.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "media" {
  bucket     = aws_s3_bucket.media.id
  depends_on = [aws_s3_bucket_versioning.media]
  rule {
    id     = "old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 2
    }
  }
}

# Direct uploads: browsers PUT parts to presigned URLs and read each part's ETag.
resource "aws_s3_bucket_cors_configuration" "media" {
  bucket = aws_s3_bucket.media.id
  cors_rule {
    allowed_methods = ["PUT"]
    allowed_origins = [var.public_url]
    allowed_headers = ["*"]
    expose_headers  = ["ETag"]
    max_age_seconds = 3600
  }
}

# ----- secrets (read by the instances at boot; app/ by the replicas, balancer/ by the
# balancers, shared/ by both) ------------------------------------------------------------

resource "random_password" "admin" {
  length  = 40
  special = false
}

resource "aws_ssm_parameter" "database_url" {
  name  = "${local.param_prefix}/app/database_url"
  type  = "SecureString"
  value = "postgres://ambisonia:${random_password.db.result}@${aws_db_instance.primary.address}:5432/ambisonia?${local.db_tls}"
}

resource "aws_ssm_parameter" "database_read_url" {
  name  = "${local.param_prefix}/app/database_read_url"
  type  = "SecureString"
  value = "postgres://ambisonia:${random_password.db.result}@${aws_db_instance.replica.address}:5432/ambisonia?${local.db_tls}"
}

# The replicas make the balancers' login with it (`server admin bus-reader`).
resource "aws_ssm_parameter" "bus_reader_password" {
  name  = "${local.param_prefix}/app/bus_reader_password"
  type  = "SecureString"
  value = random_password.bus_reader.result
}

resource "aws_ssm_parameter" "stripe_secret_key" {
  name  = "${local.param_prefix}/app/stripe_secret_key"
  type  = "SecureString"
  value = var.stripe_secret_key == "" ? "-" : var.stripe_secret_key
}

resource "aws_ssm_parameter" "stripe_webhook_secret" {
  name  = "${local.param_prefix}/app/stripe_webhook_secret"
  type  = "SecureString"
  value = var.stripe_webhook_secret == "" ? "-" : var.stripe_webhook_secret
}

# The balancers' login may read the invalidation log and nothing else.
resource "aws_ssm_parameter" "bus_database_url" {
  name  = "${local.param_prefix}/balancer/bus_database_url"
  type  = "SecureString"
  value = "postgres://ambisonia_bus_reader:${random_password.bus_reader.result}@${aws_db_instance.primary.address}:5432/ambisonia?${local.db_tls}"
}

resource "aws_ssm_parameter" "redis_url" {
  name  = "${local.param_prefix}/shared/redis_url"
  type  = "SecureString"
  value = "rediss://:${random_password.redis.result}@${aws_elasticache_replication_group.bus.primary_endpoint_address}:6379/"
}

# What /metrics asks for (Prometheus reads it too: monitoring/admin_token).
resource "aws_ssm_parameter" "admin_token" {
  name  = "${local.param_prefix}/shared/admin_token"
  type  = "SecureString"
  value = random_password.admin.result
}

# ----- instance roles ------------------------------------------------------------------

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "app" {
  statement {
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${aws_s3_bucket.media.arn}/*"]
  }
  statement {
    actions   = ["s3:ListBucket", "s3:ListBucketMultipartUploads"]
    resources = [aws_s3_bucket.media.arn]
  }
  statement {
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::${var.release_bucket}/${var.release_key}"]
  }
  statement {
    actions = ["ssm:GetParameter"]
    resources = [
      "arn:aws:ssm:${var.region}:*:parameter${local.param_prefix}/app/*",
      "arn:aws:ssm:${var.region}:*:parameter${local.param_prefix}/shared/*",
    ]
  }
}

# The internet-facing balancer: its release, its own and the shared parameters, the ACME
# store (acme/) and the list of replicas (fleet/app/, written by the replicas) — nothing
# else of the bucket, no database secret, no Stripe key, no "*".
data "aws_iam_policy_document" "balancer" {
  statement {
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::${var.release_bucket}/${var.release_key}"]
  }
  statement {
    actions = ["ssm:GetParameter"]
    resources = [
      "arn:aws:ssm:${var.region}:*:parameter${local.param_prefix}/balancer/*",
      "arn:aws:ssm:${var.region}:*:parameter${local.param_prefix}/shared/*",
    ]
  }
  statement {
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${aws_s3_bucket.media.arn}/acme/*"]
  }
  statement {
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.media.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["fleet/app/*"]
    }
  }
}

resource "aws_iam_role" "app" {
  name               = "${var.name}-app"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

resource "aws_iam_role_policy" "app" {
  role   = aws_iam_role.app.id
  policy = data.aws_iam_policy_document.app.json
}

resource "aws_iam_instance_profile" "app" {
  name = "${var.name}-app"
  role = aws_iam_role.app.name
}

resource "aws_iam_role" "balancer" {
  name               = "${var.name}-balancer"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

resource "aws_iam_role_policy" "balancer" {
  role   = aws_iam_role.balancer.id
  policy = data.aws_iam_policy_document.balancer.json
}

resource "aws_iam_instance_profile" "balancer" {
  name = "${var.name}-balancer"
  role = aws_iam_role.balancer.name
}

# ----- app replicas --------------------------------------------------------------------

resource "aws_launch_template" "app" {
  name_prefix            = "${var.name}-app-"
  image_id               = var.ami_id
  instance_type          = var.app_instance_type
  vpc_security_group_ids = [aws_security_group.app.id]
  user_data              = base64encode(local.app_user_data)
  iam_instance_profile {
    arn = aws_iam_instance_profile.app.arn
  }
  # IMDSv2 only: a request forged through the app cannot read the instance's credentials.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size = 40
      encrypted   = true
    }
  }
}

resource "aws_autoscaling_group" "app" {
  name                      = "${var.name}-app"
  min_size                  = var.app_min
  max_size                  = var.app_max
  vpc_zone_identifier       = var.private_subnet_ids
  health_check_type         = "EC2"
  health_check_grace_period = 120
  launch_template {
    id      = aws_launch_template.app.id
    version = aws_launch_template.app.latest_version
  }
  # A new launch template version (a new release_key) replaces replicas a few at a time;
  # each leaving replica drains first (SIGTERM: /readyz fails, the balancers stop sending).
  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 90
      instance_warmup        = 60
    }
  }
  tag {
    key                 = "Name"
    value               = "${var.name}-app"
    propagate_at_launch = true
  }
  # What Prometheus discovers the replicas by (deploy/observability/prometheus.yml).
  tag {
    key                 = "Role"
    value               = "ambisonia-app"
    propagate_at_launch = true
  }
}

# ----- balancers -----------------------------------------------------------------------

resource "aws_launch_template" "balancer" {
  name_prefix            = "${var.name}-balancer-"
  image_id               = var.ami_id
  instance_type          = var.balancer_instance_type
  vpc_security_group_ids = [aws_security_group.balancer.id]
  user_data              = base64encode(local.balancer_user_data)
  iam_instance_profile {
    arn = aws_iam_instance_profile.balancer.arn
  }
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size = 20
      encrypted   = true
    }
  }
}

resource "aws_instance" "balancer" {
  count     = var.balancer_count
  subnet_id = var.public_subnet_ids[count.index % length(var.public_subnet_ids)]
  launch_template {
    id      = aws_launch_template.balancer.id
    version = aws_launch_template.balancer.latest_version
  }
  tags = {
    Name = "${var.name}-balancer-${count.index + 1}"
    Role = "ambisonia-balancer"
  }
}

resource "aws_eip" "balancer" {
  count    = var.balancer_count
  instance = aws_instance.balancer[count.index].id
  domain   = "vpc"
}
