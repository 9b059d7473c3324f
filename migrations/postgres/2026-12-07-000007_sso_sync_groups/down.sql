ALTER TABLE sso_settings DROP COLUMN sync_groups;
