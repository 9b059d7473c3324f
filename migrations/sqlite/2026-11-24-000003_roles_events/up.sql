-- Roles, group-to-role mappings, the materialized effective grants, change-sets, the
-- event outbox and application API keys (spec: research/roles-admin-sso.md §6.1).

-- The last event sequence handed out in a tenant. Taking it with an UPDATE at the end
-- of a write transaction makes sequences commit in order: a reader that has seen N
-- never sees a smaller number appear later.
ALTER TABLE tenants ADD COLUMN event_sequence BIGINT NOT NULL DEFAULT 0;
-- When the first authenticated SCIM request arrived (`connection.activated`).
ALTER TABLE tenants ADD COLUMN activated_at TEXT;

CREATE TABLE roles (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    -- Lower wins in highest_priority mode.
    priority BIGINT NOT NULL,
    -- Highlighted in previews; a change-set may not leave it with no holders.
    privileged BOOLEAN NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX roles_slug ON roles (tenant_id, slug);
CREATE UNIQUE INDEX roles_priority ON roles (tenant_id, priority);

CREATE TABLE role_settings (
    tenant_id TEXT PRIMARY KEY NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    mode TEXT NOT NULL,
    default_role_id TEXT,
    allow_manual_grants BOOLEAN NOT NULL,
    -- Bumped by every applied change-set; stamped on the grants it computed.
    mapping_version BIGINT NOT NULL
);
INSERT INTO role_settings (tenant_id, mode, default_role_id, allow_manual_grants, mapping_version)
    SELECT id, 'union', NULL, FALSE, 0 FROM tenants;

-- Keyed on the group's immutable SCIM id, never its name. A deleted group's mappings
-- stay, as 'orphaned', for audit and re-linking.
CREATE TABLE role_mappings (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    role_id TEXT NOT NULL,
    state TEXT NOT NULL,
    -- The group's name when last seen, for orphaned mappings and re-link suggestions.
    group_display_name TEXT NOT NULL,
    change_set_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id)
);
CREATE UNIQUE INDEX role_mappings_pair ON role_mappings (tenant_id, group_id, role_id);
CREATE INDEX role_mappings_role ON role_mappings (tenant_id, role_id);

CREATE TABLE manual_grants (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    role_id TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, role_id),
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id)
);

-- The effective state, one row per role and source; written only by recompute.
CREATE TABLE user_role_grants (
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    role_id TEXT NOT NULL,
    -- 'group' (source_ref = group id), 'default' (''), 'manual' (who granted it).
    source TEXT NOT NULL,
    source_ref TEXT NOT NULL,
    mapping_id TEXT,
    mapping_version BIGINT NOT NULL,
    granted_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, role_id, source, source_ref)
);
CREATE INDEX user_role_grants_role ON user_role_grants (tenant_id, role_id);

-- Every change to mappings or role settings; reverting one is a new change-set.
CREATE TABLE change_sets (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    actor TEXT NOT NULL,
    description TEXT NOT NULL,
    operations TEXT NOT NULL,
    impact TEXT NOT NULL,
    -- 'applied', or 'applying' while a large recompute runs in the background.
    state TEXT NOT NULL,
    progress_done BIGINT NOT NULL,
    progress_total BIGINT NOT NULL,
    -- The last user id the background recompute finished; it resumes after it.
    resume_after TEXT,
    revert_of TEXT,
    reverted_by TEXT,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX change_sets_state ON change_sets (state);

-- The transactional outbox and the ordered feed: written in the transaction that made
-- the change, so no event is lost and none is invented.
CREATE TABLE events (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    sequence BIGINT NOT NULL,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    -- The whole envelope as JSON, exactly as the feed and webhooks send it.
    body TEXT NOT NULL,
    PRIMARY KEY (tenant_id, sequence)
);
CREATE UNIQUE INDEX events_id ON events (id);
CREATE INDEX events_occurred_at ON events (occurred_at);

-- Keys for the application API; not SCIM tokens. Stored as SHA-256 digests.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    -- Space-separated: admin, events:read, roles:read.
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);
