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
) WITHOUT ROWID;

INSERT INTO row_counts (tenant_id, kind, bucket, n)
SELECT tenant_id, 'users', substr(id, 1, 3), COUNT(*) FROM users GROUP BY tenant_id, substr(id, 1, 3);
INSERT INTO row_counts (tenant_id, kind, bucket, n)
SELECT tenant_id, 'groups', substr(id, 1, 3), COUNT(*) FROM groups GROUP BY tenant_id, substr(id, 1, 3);

CREATE TRIGGER users_counted_insert AFTER INSERT ON users BEGIN
    INSERT INTO row_counts (tenant_id, kind, bucket, n)
    VALUES (NEW.tenant_id, 'users', substr(NEW.id, 1, 3), 1)
    ON CONFLICT (tenant_id, kind, bucket) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER users_counted_delete AFTER DELETE ON users BEGIN
    UPDATE row_counts SET n = n - 1
    WHERE tenant_id = OLD.tenant_id AND kind = 'users' AND bucket = substr(OLD.id, 1, 3);
END;
CREATE TRIGGER groups_counted_insert AFTER INSERT ON groups BEGIN
    INSERT INTO row_counts (tenant_id, kind, bucket, n)
    VALUES (NEW.tenant_id, 'groups', substr(NEW.id, 1, 3), 1)
    ON CONFLICT (tenant_id, kind, bucket) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER groups_counted_delete AFTER DELETE ON groups BEGIN
    UPDATE row_counts SET n = n - 1
    WHERE tenant_id = OLD.tenant_id AND kind = 'groups' AND bucket = substr(OLD.id, 1, 3);
END;
