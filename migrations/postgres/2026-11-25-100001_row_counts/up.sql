-- How many users and groups each tenant has, per bucket of ids: a bucket is the first
-- three characters of the id. Ids are roster's UUIDv4s, so a tenant's rows spread over
-- at most 4,096 buckets of nearly equal size (~250 each at a million users). Triggers
-- keep the counts in the transaction of every insert and delete, whatever the code path.
-- An unfiltered list's totalResults is then the sum of at most 4,096 small rows instead
-- of a count of every row, and a deep startIndex page starts from the bucket holding its
-- first row instead of stepping over every row before it.
CREATE TABLE row_counts (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The counted table: 'users' or 'groups'.
    kind TEXT NOT NULL,
    bucket TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, kind, bucket)
);

INSERT INTO row_counts (tenant_id, kind, bucket, n)
SELECT tenant_id, 'users', substr(id, 1, 3), COUNT(*) FROM users GROUP BY tenant_id, substr(id, 1, 3);
INSERT INTO row_counts (tenant_id, kind, bucket, n)
SELECT tenant_id, 'groups', substr(id, 1, 3), COUNT(*) FROM groups GROUP BY tenant_id, substr(id, 1, 3);

-- Once per statement, over its transition table: a multi-row insert (a bulk load) adds
-- to each bucket once. The upsert locks a bucket's row until commit, so concurrent
-- writers to one bucket add up exactly; buckets are taken in key order, so two
-- statements cannot deadlock on them.
CREATE FUNCTION roster_count_rows() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER users_counted_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION roster_count_rows();
CREATE TRIGGER users_counted_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION roster_count_rows();
CREATE TRIGGER groups_counted_insert AFTER INSERT ON groups
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION roster_count_rows();
CREATE TRIGGER groups_counted_delete AFTER DELETE ON groups
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION roster_count_rows();
