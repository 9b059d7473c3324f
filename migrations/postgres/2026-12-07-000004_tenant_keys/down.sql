DROP INDEX events_id;
CREATE UNIQUE INDEX events_id ON events (id);

ALTER TABLE admin_login_links DROP CONSTRAINT admin_login_links_pkey, ADD PRIMARY KEY (token_hash);
ALTER TABLE admin_sessions DROP CONSTRAINT admin_sessions_pkey, ADD PRIMARY KEY (id_hash);
ALTER TABLE admin_audit_log DROP CONSTRAINT admin_audit_log_pkey, ADD PRIMARY KEY (id);

ALTER TABLE scim_tokens DROP CONSTRAINT scim_tokens_token_hash_key,
    ADD CONSTRAINT scim_tokens_token_hash_key UNIQUE (token_hash);
ALTER TABLE scim_tokens DROP CONSTRAINT scim_tokens_pkey, ADD PRIMARY KEY (id);
ALTER TABLE api_keys DROP CONSTRAINT api_keys_key_hash_key,
    ADD CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash);
ALTER TABLE api_keys DROP CONSTRAINT api_keys_pkey, ADD PRIMARY KEY (id);

DROP INDEX webhook_deliveries_id;
ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_tenant_fkey;
ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_delivery_fkey;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_endpoint_fkey;
ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_pkey,
    ADD PRIMARY KEY (delivery_id, attempt);
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_pkey, ADD PRIMARY KEY (id);
ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_pkey, ADD PRIMARY KEY (id);
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_endpoint_id_fkey
    FOREIGN KEY (endpoint_id) REFERENCES webhook_endpoints (id) ON DELETE CASCADE;
ALTER TABLE webhook_attempts ADD CONSTRAINT webhook_attempts_delivery_id_fkey
    FOREIGN KEY (delivery_id) REFERENCES webhook_deliveries (id) ON DELETE CASCADE;
ALTER TABLE webhook_attempts DROP COLUMN tenant_id;
