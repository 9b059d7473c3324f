ALTER TABLE oidc_configs DROP COLUMN scopes;
