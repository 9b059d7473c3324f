-- No count may land while the shards are folded back.
LOCK TABLE row_counts IN EXCLUSIVE MODE;

CREATE OR REPLACE FUNCTION roster_count_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO row_counts (tenant_id, kind, bucket, n)
        SELECT tenant_id, TG_TABLE_NAME, substr(id, 1, 3), COUNT(*)
        FROM changed GROUP BY tenant_id, substr(id, 1, 3) ORDER BY 1, 3
        ON CONFLICT (tenant_id, kind, bucket) DO UPDATE SET n = row_counts.n + EXCLUDED.n;
    ELSE
        UPDATE row_counts c SET n = c.n - d.n
        FROM (SELECT tenant_id, substr(id, 1, 3) AS bucket, COUNT(*) AS n
              FROM changed GROUP BY tenant_id, substr(id, 1, 3)) d
        WHERE c.tenant_id = d.tenant_id AND c.kind = TG_TABLE_NAME AND c.bucket = d.bucket;
    END IF;
    RETURN NULL;
END
$$;

-- Folds the shards back into one row per bucket.
CREATE TEMPORARY TABLE folded AS
SELECT tenant_id, kind, bucket, SUM(n)::BIGINT AS n FROM row_counts GROUP BY tenant_id, kind, bucket;
DELETE FROM row_counts;
ALTER TABLE row_counts DROP CONSTRAINT row_counts_pkey;
ALTER TABLE row_counts DROP COLUMN shard;
ALTER TABLE row_counts ADD PRIMARY KEY (tenant_id, kind, bucket);
INSERT INTO row_counts (tenant_id, kind, bucket, n) SELECT tenant_id, kind, bucket, n FROM folded;
DROP TABLE folded;
