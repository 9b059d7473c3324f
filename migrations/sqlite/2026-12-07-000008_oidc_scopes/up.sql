-- The scopes roster asks the tenant's OIDC provider for, space-separated. JumpCloud's
-- `email` scope adds a string email_verified that some clients choke on, so some
-- admins leave it out.
ALTER TABLE oidc_configs ADD COLUMN scopes TEXT NOT NULL DEFAULT 'openid email profile';
