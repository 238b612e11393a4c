"""The shared runtime of every Vigil service and the gateway, written once: configuration, gRPC bootstrap,
request context and errors, SQL store and migrations, the Kafka/CloudEvents bus and the transactional outbox,
and telemetry."""
