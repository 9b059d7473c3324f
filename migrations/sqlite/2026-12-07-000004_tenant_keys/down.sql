ALTER TABLE webhook_attempts DROP COLUMN tenant_id;
