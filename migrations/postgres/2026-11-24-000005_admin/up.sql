-- Admin UI login: per-tenant OIDC settings, server-side sessions, break-glass login
-- links and the admin audit log (spec: research/roles-admin-sso.md §6.7).

-- Server-wide values several roster processes must share, such as the generated
-- session secret.
CREATE TABLE server_settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE oidc_configs (
    tenant_id TEXT PRIMARY KEY NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- Compared exactly with the ID token's `iss` (JumpCloud's ends with '/').
    issuer TEXT NOT NULL,
    client_id TEXT NOT NULL,
    -- Stored as given: not encrypted at rest yet. NULL means a public client (PKCE only).
    client_secret TEXT,
    -- '' means auto-detect: groups, then memberOf, then member_of.
    groups_claim TEXT NOT NULL,
    expected_jc_org TEXT,
    -- JSON object: IdP group name -> owner | admin | viewer.
    group_roles TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE admin_sessions (
    -- SHA-256 of the cookie value, hex: a leaked table opens no session.
    id_hash TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The IdP's `sub`, or 'break-glass'.
    subject TEXT NOT NULL,
    email TEXT,
    role TEXT NOT NULL,
    -- The SCIM user matched at login, if any: its deactivation ends the session.
    scim_user_id TEXT,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    -- Absolute end (12 h after login); the idle end is last_seen_at + 30 min.
    expires_at TEXT NOT NULL
);
CREATE INDEX admin_sessions_tenant ON admin_sessions (tenant_id, subject);

CREATE TABLE admin_login_links (
    token_hash TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);

CREATE TABLE admin_audit_log (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- `sub <email>`, the subject alone, or 'break-glass'.
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT,
    ip TEXT,
    user_agent TEXT,
    at TEXT NOT NULL
);
CREATE INDEX admin_audit_log_tenant ON admin_audit_log (tenant_id, at);
