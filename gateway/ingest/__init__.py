"""Telemetry intake behind the HTTP routes: JSON batches (`/api/logs|metrics|traces`) and OTLP/HTTP
(`/v1/logs|metrics|traces`) become rows of one contract (`rows.py`), published to the telemetry topics by one
producer with consumer-lag backpressure (`pipeline.py`). The route modules only translate HTTP."""
