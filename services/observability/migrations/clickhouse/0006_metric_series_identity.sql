-- A metric series is its name, its resource attributes, its instrumentation scope and its point attributes (the
-- OpenTelemetry data model; the ClickHouse exporter keeps all of them per point): two replicas of one service
-- (same service.name, another service.instance.id or host.name) are two series. Map keys are sorted before
-- hashing, so the same attributes in another order are the same series.
-- Changing the expression is a metadata change: points stored before it keep the SeriesId they were stored with
-- (a key column cannot be rewritten in place); points written from now on get the new identity.
ALTER TABLE otel_metrics MODIFY COLUMN SeriesId UInt64
    MATERIALIZED cityHash64(ServiceName, mapSort(ResourceAttributes), ScopeName, ScopeVersion, mapSort(Attributes));

-- The series index carries what identifies a series, so label matchers and group-by can use resource attributes.
ALTER TABLE otel_metric_series
    ADD COLUMN IF NOT EXISTS ResourceAttributes Map(LowCardinality(String), String) AFTER ServiceName,
    ADD COLUMN IF NOT EXISTS ScopeName String AFTER ResourceAttributes,
    ADD COLUMN IF NOT EXISTS ScopeVersion LowCardinality(String) AFTER ScopeName;

DROP VIEW IF EXISTS otel_metric_series_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_metric_series_mv TO otel_metric_series
AS SELECT
    TenantId,
    MetricName,
    SeriesId,
    any(ServiceName) AS ServiceName,
    any(ResourceAttributes) AS ResourceAttributes,
    any(ScopeName) AS ScopeName,
    any(ScopeVersion) AS ScopeVersion,
    any(Attributes) AS Attributes,
    max(toDateTime(TimeUnix)) AS LastSeen,
    max(RetentionDays) AS RetentionDays
FROM otel_metrics
GROUP BY TenantId, MetricName, SeriesId
