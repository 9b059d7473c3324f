-- Directory pull: a tenant's directory read from the JumpCloud API (its source), each
-- sync run with its diff, and the links between JumpCloud objects and roster's.

CREATE TABLE directory_sources (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    -- https://console.jumpcloud.com, the EU host, or a stand-in on loopback.
    base_url TEXT NOT NULL,
    -- The API key, sealed with the secrets key; never shown again.
    api_key TEXT NOT NULL,
    -- x-org-id, for multi-tenant (MSP) admins.
    org_id TEXT,
    -- Minutes between scheduled runs; 0 runs only when asked.
    interval_minutes BIGINT NOT NULL,
    -- JSON array of JumpCloud group names: only their members and those groups. Empty: all.
    scope_groups TEXT NOT NULL,
    -- email or username: which JumpCloud field becomes userName.
    user_name_from TEXT NOT NULL,
    -- deactivate or delete: what happens to a user JumpCloud no longer has.
    missing_users TEXT NOT NULL,
    -- Apply each run's diff without waiting for an admin.
    auto_apply BOOLEAN NOT NULL,
    -- report or repair: what a run does with drift from what SCIM pushed.
    drift TEXT NOT NULL,
    next_run_at TEXT NOT NULL,
    -- A process running this source holds it until then (several processes share one
    -- database); the holder's id, so only it renews or frees it.
    lease_until TEXT,
    lease_owner TEXT,
    -- A run found resources SCIM pushed: from then on every run is a drift check.
    push_seen BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE directory_runs (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    -- schedule, manual.
    trigger TEXT NOT NULL,
    -- planned, applying, applied, no_changes, failed, discarded, superseded.
    state TEXT NOT NULL,
    -- The tenant also receives SCIM push: differences are drift.
    reconcile BOOLEAN NOT NULL,
    -- Counts by kind and operation, the role impact, requests and retries (JSON).
    summary TEXT NOT NULL,
    error TEXT,
    -- Changes applied so far, of total: a run resumes from here.
    applied BIGINT NOT NULL,
    total BIGINT NOT NULL,
    fetch_ms BIGINT NOT NULL,
    plan_ms BIGINT NOT NULL,
    apply_ms BIGINT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    applied_by TEXT,
    PRIMARY KEY (tenant_id, id)
);

CREATE INDEX directory_runs_recent ON directory_runs (tenant_id, started_at);

CREATE TABLE directory_changes (
    tenant_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    -- Applied in this order: groups, users, memberships, then removals.
    seq BIGINT NOT NULL,
    -- user, group or membership.
    kind TEXT NOT NULL,
    -- create, update, deactivate, reactivate, delete, add, remove.
    op TEXT NOT NULL,
    remote_id TEXT NOT NULL,
    resource_id TEXT,
    label TEXT NOT NULL,
    -- What the change writes (JSON).
    body TEXT NOT NULL,
    -- For drift: which side changed since the two last agreed (jumpcloud, roster, both).
    newer TEXT,
    -- Empty until applied: applied, or why it was skipped.
    outcome TEXT,
    PRIMARY KEY (tenant_id, run_id, seq),
    FOREIGN KEY (tenant_id, run_id) REFERENCES directory_runs (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE directory_links (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- user or group.
    kind TEXT NOT NULL,
    remote_id TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    -- A digest of what JumpCloud said when roster last agreed with it.
    digest TEXT NOT NULL,
    PRIMARY KEY (tenant_id, kind, remote_id)
);

-- Which source last wrote each resource: scim, api, jit, directory or system; unknown
-- for rows written before roster recorded it.
ALTER TABLE users ADD COLUMN written_by TEXT NOT NULL DEFAULT 'unknown';
ALTER TABLE groups ADD COLUMN written_by TEXT NOT NULL DEFAULT 'unknown';
