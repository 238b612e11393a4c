"""Every Kafka topic name, in one place. Domain events of one service share a topic (ordered per key, the
aggregate id); the CloudEvents `type` header tells them apart."""

INCIDENT_EVENTS = "vigil.incident.events"
ITSM_EVENTS = "vigil.itsm.events"
CMDB_EVENTS = "vigil.cmdb.events"
AI_EVENTS = "vigil.ai.events"
# alert.<decision> events, one per processed alert (key: integration/fingerprint).
ALERT_EVENTS = "vigil.alert.events"

TELEMETRY_LOGS = "vigil.telemetry.logs"
TELEMETRY_METRICS = "vigil.telemetry.metrics"
TELEMETRY_TRACES = "vigil.telemetry.traces"
TELEMETRY_DEAD_LETTER = "vigil.telemetry.dead-letter"

# Alerts accepted by the gateway's doors, normalised (vigil.incident.v1.AlertMessage), waiting for the incident
# service; key = tenant/integration/fingerprint so one fingerprint's alerts are processed in order.
ALERT_INTAKE = "vigil.alert.intake"
ALERT_DEAD_LETTER = "vigil.alert.dead-letter"

DOMAIN_TOPICS = (INCIDENT_EVENTS, ITSM_EVENTS, CMDB_EVENTS, AI_EVENTS, ALERT_EVENTS)
ALL = (*DOMAIN_TOPICS, TELEMETRY_LOGS, TELEMETRY_METRICS, TELEMETRY_TRACES, TELEMETRY_DEAD_LETTER, ALERT_INTAKE,
       ALERT_DEAD_LETTER)
