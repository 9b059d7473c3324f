-- Groups from the identity provider (SAML attribute or OIDC claim) set the memberships
-- of users created at sign-in (just-in-time), by exact group name.
ALTER TABLE sso_settings ADD COLUMN sync_groups BOOLEAN NOT NULL DEFAULT FALSE;
