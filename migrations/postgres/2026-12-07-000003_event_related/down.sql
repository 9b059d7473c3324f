DROP INDEX events_related;
ALTER TABLE events DROP COLUMN related_id;
