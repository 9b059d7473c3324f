ALTER TABLE tenants DROP COLUMN suspended_at;
