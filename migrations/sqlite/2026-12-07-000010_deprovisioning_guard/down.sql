DROP TABLE held_changes;
DROP TABLE deprovisions;
DROP TABLE deprovisioning_guards;
