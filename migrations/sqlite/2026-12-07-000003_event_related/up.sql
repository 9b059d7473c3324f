-- A group's timeline shows its members' arrivals and departures: a membership event
-- is about the member (subject_id) and about the group (related_id).
ALTER TABLE events ADD COLUMN related_id TEXT;
UPDATE events SET related_id = json_extract(body, '$.data.group.id')
  WHERE type IN ('group.member_added', 'group.member_removed');
CREATE INDEX events_related ON events (tenant_id, related_id, sequence);
