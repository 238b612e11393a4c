-- Log text search folds case the Unicode way on both sides: the body is folded once at insert into BodySearch
-- (what `q` is matched against) and the query text with the same expression at query time. Full Unicode case
-- folding (Ü/ü, Σ/σ/ς, ß/ss, Cyrillic, ...), and the Turkish dotted and dotless i (İ, ı) read as i, so
-- "istanbul", "İSTANBUL" and "ISTANBUL" find each other. Folding at insert keeps a search as fast as before
-- (folding every scanned body at query time measured up to 3x slower on wide windows); the cost is the column.
-- The expression must stay the same as FOLD in services/observability/store.py.
ALTER TABLE otel_logs ADD COLUMN IF NOT EXISTS BodySearch String
    MATERIALIZED replaceAll(translateUTF8(caseFoldUTF8(Body), '\xC4\xB1', 'i'), 'i\xCC\x87', 'i') CODEC(ZSTD(1)) AFTER Body;

-- Rows stored before this migration are folded once, here.
ALTER TABLE otel_logs MATERIALIZE COLUMN BodySearch SETTINGS mutations_sync = 2
