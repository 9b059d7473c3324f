-- One row per value of a user's `emails`, so `emails[value eq "…"]` and `emails.value eq`
-- are index look-ups instead of a walk over every user's JSON. Written by the same
-- statement sequence (one transaction) as the user row; see store/users.rs.
CREATE TABLE user_emails (
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    -- Position among the user's values, only to make rows distinct.
    position BIGINT NOT NULL,
    -- Unicode lower case, computed in Rust (emails.value is caseExact = false).
    value_folded TEXT NOT NULL,
    -- TRUE when the value is a bare string element rather than an object's `value`:
    -- `emails[value eq …]` sees it, `emails.value eq …` does not (as the evaluator).
    bare BOOLEAN NOT NULL,
    PRIMARY KEY (tenant_id, user_id, position),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
-- Value first: the filter compiler asks "(tenant_id, id) IN (rows with this value)" without
-- correlating on the tenant, which SQLite would otherwise run once per user; a value is
-- held by a handful of rows across all tenants, and the outer query keeps the tenant's.
CREATE INDEX user_emails_value ON user_emails (value_folded, tenant_id, user_id);

-- Existing users. roster_fold is roster's own Rust fold, registered on every connection.
INSERT INTO user_emails (tenant_id, user_id, position, value_folded, bare)
SELECT u.tenant_id, u.id, e.key, roster_fold(json_extract(e.value, '$.value')), FALSE
FROM users u, json_each(u.attributes, '$.emails') e
WHERE e.type = 'object' AND json_type(e.value, '$.value') = 'text';
