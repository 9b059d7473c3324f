DROP TABLE admin_audit_log;
DROP TABLE admin_login_links;
DROP TABLE admin_sessions;
DROP TABLE oidc_configs;
DROP TABLE server_settings;
