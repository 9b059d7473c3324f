-- roster as each tenant's OpenID Provider: the applications that sign users in
-- (OAuth clients), the signing keys of its tokens, the one-time authorization codes,
-- who the upstream identity provider says each user is, and the sign-in rules.

CREATE TABLE oauth_clients (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The client_id: rcl_ and 128 random bits, hex.
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    -- SHA-256 of the secret, hex: shown once, never stored.
    secret_hash TEXT NOT NULL,
    -- Exact redirect URIs, one a line; no wildcards, no prefixes.
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE oauth_signing_keys (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The JWK's kid.
    id TEXT NOT NULL,
    -- PKCS#8 of the P-256 private key, base64, sealed with the secrets key.
    private_key TEXT NOT NULL,
    -- The public JWK, as the JWKS serves it.
    public_jwk TEXT NOT NULL,
    created_at TEXT NOT NULL,
    -- No longer signs after this (a newer key does).
    retired_at TEXT,
    -- Leaves the JWKS after this: every token it signed has expired by then.
    expires_at TEXT,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE oauth_codes (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- SHA-256 of the code, hex.
    code_hash TEXT NOT NULL,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    -- PKCE S256 challenge.
    code_challenge TEXT NOT NULL,
    nonce TEXT,
    scope TEXT NOT NULL,
    -- Unix seconds of the upstream sign-in.
    auth_time BIGINT NOT NULL,
    expires_at TEXT NOT NULL,
    -- Set by the exchange: a second exchange of the code is a replay.
    used_at TEXT,
    PRIMARY KEY (tenant_id, code_hash)
);

-- Who the upstream identity provider says a user is: matched first at sign-in.
CREATE TABLE sso_identities (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The upstream issuer and its `sub`.
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id TEXT NOT NULL,
    -- The user was created by this sign-in (just-in-time), not pushed by SCIM.
    jit BOOLEAN NOT NULL,
    created_at TEXT NOT NULL,
    last_sign_in_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, issuer, subject)
);
CREATE INDEX sso_identities_user ON sso_identities (tenant_id, user_id);

CREATE TABLE sso_settings (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    -- Create a user at sign-in when no user matches.
    jit_enabled BOOLEAN NOT NULL,
    -- E-mail domains JIT may create users for, one a line; empty: any.
    jit_domains TEXT NOT NULL,
    -- Put `groups` in tokens and userinfo.
    groups_in_tokens BOOLEAN NOT NULL,
    updated_at TEXT NOT NULL
);
