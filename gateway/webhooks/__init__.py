"""Webhooks: subscriptions per tenant, signed deliveries driven by the Kafka domain events, a durable retry
ladder, and the safety rules for targets. See docs/integrations.md."""
