-- The mass-deprovisioning guard: each tenant's threshold, the deprovisions it let
-- through recently (the sliding window), and the changes it holds for an owner.

CREATE TABLE deprovisioning_guards (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    enabled BOOLEAN NOT NULL,
    -- Users deprovisioned within the window may not exceed percent of the active users,
    -- nor max_users; never less than min_users (a tiny tenant is not held at its first).
    percent BIGINT NOT NULL,
    max_users BIGINT NOT NULL,
    min_users BIGINT NOT NULL,
    window_minutes BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE deprovisions (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    at TEXT NOT NULL,
    -- Users who lost access through one write (deactivated, deleted, or losing a role).
    users BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE INDEX deprovisions_recent ON deprovisions (tenant_id, at);

CREATE TABLE held_changes (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The order they were held in, and are released in.
    seq BIGINT NOT NULL,
    -- pending, released or discarded.
    state TEXT NOT NULL,
    -- scim (a request an identity provider sent) or directory (a pull's change).
    origin TEXT NOT NULL,
    -- The resource it writes: later writes to it are held behind it.
    resource_id TEXT,
    -- What it is, for the owner: "PATCH /Users/…", and whom it deprovisions (JSON).
    label TEXT NOT NULL,
    users TEXT NOT NULL,
    -- What to run on release (JSON), and as whom.
    request TEXT NOT NULL,
    actor TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    held_at TEXT NOT NULL,
    decided_at TEXT,
    decided_by TEXT,
    -- After release: applied, or why it was skipped.
    outcome TEXT,
    PRIMARY KEY (tenant_id, seq)
);

CREATE INDEX held_changes_pending ON held_changes (tenant_id, state, resource_id);
