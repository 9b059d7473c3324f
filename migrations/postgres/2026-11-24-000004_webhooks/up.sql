-- Outbound webhooks (spec: research/roles-admin-sso.md §6.5 E3-E5): endpoints per
-- tenant, one delivery row per event and endpoint, and a log of every attempt.

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    -- Space-separated event types; empty means every type.
    event_types TEXT NOT NULL,
    -- `whsec_` + base64 of 32 random bytes. Kept in clear: HMAC signing needs the key.
    secret TEXT NOT NULL,
    -- The secret before the last rotation; it also signs until it expires.
    previous_secret TEXT,
    previous_secret_expires_at TEXT,
    enabled BOOLEAN NOT NULL,
    disabled_reason TEXT,
    consecutive_failures BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id);

-- Written in the transaction that commits the event (the fan-out), so a delivery
-- exists exactly when its event does.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- The event's id, sent as `webhook-id` on every attempt.
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    -- NULL: the body is the event's in `events`. Set only for `webhook.test`, which
    -- is not a tenant event.
    payload TEXT,
    -- pending, succeeded or dead.
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    -- A worker's lease: until then no other worker takes the row; after it (the
    -- worker died) the row is due again, with the same `webhook-id`. The value also
    -- names the lease: a worker records its outcome only while it is unchanged.
    claimed_until TEXT,
    last_status BIGINT,
    last_error TEXT,
    last_latency_ms BIGINT,
    -- The first 2 KB of the last response body.
    last_response TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);

CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt BIGINT NOT NULL,
    at TEXT NOT NULL,
    status BIGINT,
    error TEXT,
    latency_ms BIGINT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
