DROP INDEX groups_display_name_c;
DROP INDEX user_emails_value_c;
DROP INDEX users_display_name_c;
DROP INDEX users_user_name_c;
DROP INDEX users_active;
DROP INDEX events_subject;
ALTER TABLE events DROP COLUMN subject_id;
ALTER TABLE scim_tokens DROP COLUMN replaces;
ALTER TABLE scim_tokens DROP COLUMN last_used_ip;
