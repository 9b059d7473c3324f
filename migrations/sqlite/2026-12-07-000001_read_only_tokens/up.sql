-- A read-only SCIM token reads resources; every write it sends is refused (403).
ALTER TABLE scim_tokens ADD COLUMN read_only BOOLEAN NOT NULL DEFAULT 0;
