-- The PostgreSQL migration of this name makes every key of a tenant-owned table start
-- with tenant_id, for a distributed PostgreSQL. SQLite is one file on one machine, and
-- changing a key means rebuilding the table (with cascades firing on the way), so
-- SQLite keeps its keys; it gains the column and the indexes the queries use.
ALTER TABLE webhook_attempts ADD COLUMN tenant_id TEXT NOT NULL DEFAULT '';
UPDATE webhook_attempts SET tenant_id = (
    SELECT d.tenant_id FROM webhook_deliveries d WHERE d.id = webhook_attempts.delivery_id
);
