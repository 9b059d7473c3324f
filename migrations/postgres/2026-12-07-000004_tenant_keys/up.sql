-- Ready for a distributed PostgreSQL (Citus distributing every tenant-owned table by
-- tenant_id): every primary key and unique constraint of a tenant-owned table starts
-- with tenant_id, and every foreign key between tenant-owned tables includes it, so a
-- tenant's rows, and their joins, live on one node. tests/api/storage.rs checks it.

-- Webhook attempts carry their tenant, like every other tenant-owned row.
ALTER TABLE webhook_attempts ADD COLUMN tenant_id TEXT;
UPDATE webhook_attempts a SET tenant_id = d.tenant_id
    FROM webhook_deliveries d WHERE d.id = a.delivery_id;
ALTER TABLE webhook_attempts ALTER COLUMN tenant_id SET NOT NULL;

ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_delivery_id_fkey;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_endpoint_id_fkey;

ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_pkey,
    ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_pkey,
    ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_pkey,
    ADD PRIMARY KEY (tenant_id, delivery_id, attempt);
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_endpoint_fkey
    FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id)
    ON DELETE CASCADE;
ALTER TABLE webhook_attempts ADD CONSTRAINT webhook_attempts_delivery_fkey
    FOREIGN KEY (tenant_id, delivery_id) REFERENCES webhook_deliveries (tenant_id, id)
    ON DELETE CASCADE;
ALTER TABLE webhook_attempts ADD CONSTRAINT webhook_attempts_tenant_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;
-- The delivery worker serves every tenant and looks deliveries up by id (background
-- work, not a request's hot path); a plain index is local to each node.
CREATE INDEX webhook_deliveries_id ON webhook_deliveries (id);

ALTER TABLE api_keys DROP CONSTRAINT api_keys_pkey, ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE api_keys DROP CONSTRAINT api_keys_key_hash_key,
    ADD CONSTRAINT api_keys_key_hash_key UNIQUE (tenant_id, key_hash);
ALTER TABLE scim_tokens DROP CONSTRAINT scim_tokens_pkey, ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE scim_tokens DROP CONSTRAINT scim_tokens_token_hash_key,
    ADD CONSTRAINT scim_tokens_token_hash_key UNIQUE (tenant_id, token_hash);

ALTER TABLE admin_audit_log DROP CONSTRAINT admin_audit_log_pkey,
    ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE admin_sessions DROP CONSTRAINT admin_sessions_pkey,
    ADD PRIMARY KEY (tenant_id, id_hash);
ALTER TABLE admin_login_links DROP CONSTRAINT admin_login_links_pkey,
    ADD PRIMARY KEY (tenant_id, token_hash);

DROP INDEX events_id;
CREATE UNIQUE INDEX events_id ON events (tenant_id, id);
