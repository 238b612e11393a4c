-- The series index: one row per (tenant, metric, series) with its labels, kept by a materialized view on insert.
-- Metric queries resolve label matchers and group-by labels here (thousands of rows) and touch only SeriesId,
-- TimeUnix and Value in otel_metrics, instead of reading the attribute map of every point (the Prometheus
-- inverted-index idea).
CREATE TABLE IF NOT EXISTS otel_metric_series
(
    TenantId LowCardinality(String),
    MetricName LowCardinality(String),
    SeriesId UInt64,
    ServiceName LowCardinality(String),
    Attributes Map(LowCardinality(String), String),
    LastSeen DateTime,
    RetentionDays UInt16 DEFAULT 30
)
ENGINE = ReplacingMergeTree(LastSeen)
ORDER BY (TenantId, MetricName, SeriesId)
TTL LastSeen + toIntervalDay(RetentionDays);

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_metric_series_mv TO otel_metric_series
AS SELECT
    TenantId,
    MetricName,
    SeriesId,
    any(ServiceName) AS ServiceName,
    any(Attributes) AS Attributes,
    max(toDateTime(TimeUnix)) AS LastSeen,
    max(RetentionDays) AS RetentionDays
FROM otel_metrics
GROUP BY TenantId, MetricName, SeriesId
