DROP INDEX users_active;
DROP INDEX events_subject;
ALTER TABLE events DROP COLUMN subject_id;
ALTER TABLE scim_tokens DROP COLUMN replaces;
ALTER TABLE scim_tokens DROP COLUMN last_used_ip;
