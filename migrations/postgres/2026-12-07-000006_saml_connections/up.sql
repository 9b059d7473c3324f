-- SAML 2.0 with the tenant's identity provider, roster being the service provider:
-- the connection, the AuthnRequests in flight (InResponseTo), and the ids of the
-- assertions already used (the replay cache).

CREATE TABLE saml_connections (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    -- The IdP's entity id, compared exactly with each assertion's Issuer.
    idp_entity_id TEXT NOT NULL,
    -- Where AuthnRequests go (HTTP-Redirect binding).
    sso_url TEXT NOT NULL,
    -- The IdP's signing certificates, base64 DER, one a line: two during a rollover.
    idp_certificates TEXT NOT NULL,
    -- roster's own key for this connection (PKCS#8 PEM, sealed with the secrets key)
    -- and its self-signed certificate (PEM), published in the SP metadata.
    sp_private_key TEXT NOT NULL,
    sp_certificate TEXT NOT NULL,
    name_id_format TEXT NOT NULL,
    -- Attribute names: JumpCloud's defaults are email, firstName, lastName, memberOf.
    email_attribute TEXT NOT NULL,
    first_name_attribute TEXT NOT NULL,
    last_name_attribute TEXT NOT NULL,
    groups_attribute TEXT NOT NULL,
    -- Admin sign-in over SAML: `{"group": "owner|admin|viewer"}` (JSON), used when the
    -- tenant has no OIDC connection, whose rules apply to both otherwise.
    admin_group_roles TEXT NOT NULL,
    -- Unsolicited (IdP-initiated) responses: refused unless on; then the browser goes
    -- to this URL (the application's login URL), never to a RelayState.
    allow_idp_initiated BOOLEAN NOT NULL,
    idp_initiated_url TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE saml_requests (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The AuthnRequest's ID: the response's InResponseTo must name it, once.
    id TEXT NOT NULL,
    -- app (an application's sign-in), admin (the admin UI) or test (the test button).
    purpose TEXT NOT NULL,
    -- What the purpose needs afterwards (JSON): the application's checked request, or
    -- the admin page to return to.
    payload TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE saml_assertions (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    -- Kept until the assertion could no longer be accepted anyway.
    expires_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- Which connection applications' users sign in with: oidc or saml.
ALTER TABLE sso_settings ADD COLUMN upstream TEXT NOT NULL DEFAULT 'oidc';
