-- Two batches of one tenant written side by side (write_writers_per_tenant > 1) count
-- into two shards of a bucket, so they never lock the same row_counts row: without
-- shards, one batch's creates took buckets in request order and the other's in theirs,
-- and they deadlocked (1 s each at the default deadlock_timeout). Readers sum the shards.
ALTER TABLE row_counts ADD COLUMN shard SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE row_counts DROP CONSTRAINT row_counts_pkey;
ALTER TABLE row_counts ADD PRIMARY KEY (tenant_id, kind, bucket, shard);

-- The write pipeline sets the batch's shard for its transaction (`roster.shard`); any
-- other session counts into shard 0. A delete counts a negative row into its own shard,
-- since the row it removes may have been counted in another.
CREATE OR REPLACE FUNCTION roster_count_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    batch_shard SMALLINT := COALESCE(NULLIF(current_setting('roster.shard', true), '')::SMALLINT, 0);
    delta BIGINT := CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END;
BEGIN
    INSERT INTO row_counts (tenant_id, kind, bucket, shard, n)
    SELECT tenant_id, TG_TABLE_NAME, substr(id, 1, 3), batch_shard, delta * COUNT(*)
    FROM changed
    -- A tenant's deletion cascades to its users: nothing is left to count for it.
    WHERE TG_OP = 'INSERT' OR EXISTS (SELECT 1 FROM tenants t WHERE t.id = changed.tenant_id)
    GROUP BY tenant_id, substr(id, 1, 3) ORDER BY 1, 3
    ON CONFLICT (tenant_id, kind, bucket, shard) DO UPDATE SET n = row_counts.n + EXCLUDED.n;
    RETURN NULL;
END
$$;
