ALTER TABLE groups DROP COLUMN written_by;
ALTER TABLE users DROP COLUMN written_by;
DROP TABLE directory_links;
DROP TABLE directory_changes;
DROP TABLE directory_runs;
DROP TABLE directory_sources;
