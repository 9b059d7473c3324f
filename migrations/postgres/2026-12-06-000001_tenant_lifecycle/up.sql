-- A suspended tenant's SCIM requests are refused (403) until it is resumed.
ALTER TABLE tenants ADD COLUMN suspended_at TEXT;
