-- The consumer's insert ledger: before a batch is inserted, its exact Kafka offset range is recorded here. After
-- a crash the consumer rebuilds the same batch from the same offsets, so the insert carries the same
-- deduplication token and ClickHouse drops the repeat (see services/observability/events.py).
CREATE TABLE IF NOT EXISTS ingest_ledger
(
    Consumer LowCardinality(String),
    Topic LowCardinality(String),
    Partition UInt32,
    StartOffset UInt64,
    EndOffset UInt64,
    At DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(At)
ORDER BY (Consumer, Topic, Partition, StartOffset)
TTL At + toIntervalDay(7)
