ALTER TABLE scim_tokens DROP COLUMN read_only;
