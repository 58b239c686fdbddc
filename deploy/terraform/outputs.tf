output "balancer_public_ips" {
  description = "Point the site's DNS name (A records) at these."
  value       = aws_eip.balancer[*].public_ip
}

output "app_asg_name" {
  value = aws_autoscaling_group.app.name
}

output "database_endpoint" {
  value = aws_db_instance.primary.address
}

output "read_replica_endpoint" {
  value = aws_db_instance.replica.address
}

output "redis_endpoint" {
  value = aws_elasticache_replication_group.bus.primary_endpoint_address
}
