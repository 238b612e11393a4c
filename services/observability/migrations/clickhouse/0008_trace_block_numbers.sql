-- Keep each span's insert block number (_block_number) through merges. Block numbers are handed out in commit
-- order, so "blocks up to N" is a snapshot: trace-list cursors carry the newest block their first page read, and
-- later pages aggregate exactly the spans that page could see. Rows stored before keep the block number of the
-- part they are in, which is older than any insert after this migration.
ALTER TABLE otel_traces MODIFY SETTING enable_block_number_column = 1
