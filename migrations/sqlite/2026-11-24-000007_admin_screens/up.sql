-- The credentials screen (S4) shows where a token was last used from, and pairs a
-- rotated token with its successor until the rotation is completed or cancelled.
ALTER TABLE scim_tokens ADD COLUMN last_used_ip TEXT;
ALTER TABLE scim_tokens ADD COLUMN replaces TEXT;

-- The user and group pages show a timeline: the events about one resource.
ALTER TABLE events ADD COLUMN subject_id TEXT;
CREATE INDEX events_subject ON events (tenant_id, subject_id, sequence);

-- The users browser filters by status in userName order, and the overview counts
-- active and inactive users from the index alone.
CREATE INDEX users_active ON users (tenant_id, active, user_name_folded);
