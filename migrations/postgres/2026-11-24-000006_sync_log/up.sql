-- The sync log: one row per SCIM request, for the admin's "what did the IdP send" view.
-- Written after the response by a background writer; kept 30 days.
CREATE TABLE scim_request_log (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The request id, as in `x-request-id` and events' `correlation_id`.
    id TEXT NOT NULL,
    at TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    latency_us BIGINT NOT NULL,
    -- 'success' (2xx, 304) or 'failure' (4xx, 5xx).
    result TEXT NOT NULL,
    detail TEXT,
    resource_type TEXT,
    resource_id TEXT,
    -- JSON with secrets redacted, cut at 16 KiB.
    request_body TEXT,
    response_body TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX scim_request_log_at ON scim_request_log (tenant_id, at);
CREATE INDEX scim_request_log_pruning ON scim_request_log (at);
