-- The CloudEvent ids the consumer inserted, per partition, for a day. A telemetry batch published twice under
-- the same id (a client retried an ingest whose first answer was lost, with the same Idempotency-Key; the
-- gateway derives the id from it) is inserted once (see services/observability/events.py).
CREATE TABLE IF NOT EXISTS ingest_event_ids
(
    Consumer LowCardinality(String),
    Topic LowCardinality(String),
    Partition UInt32,
    EventId String,
    Offset UInt64,
    At DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(At)
ORDER BY (Consumer, Topic, Partition, EventId)
TTL At + toIntervalDay(1)
SETTINGS non_replicated_deduplication_window = 10000
