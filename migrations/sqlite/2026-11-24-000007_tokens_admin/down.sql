ALTER TABLE scim_tokens DROP COLUMN replaces;
ALTER TABLE scim_tokens DROP COLUMN last_used_ip;
