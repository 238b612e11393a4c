"""Events published outside the platform: the registry that renders them (registry.py) and the live event
stream of each gateway replica (stream.py). Webhook delivery is gateway/webhooks/."""
