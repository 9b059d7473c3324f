DROP TRIGGER groups_counted_delete;
DROP TRIGGER groups_counted_insert;
DROP TRIGGER users_counted_delete;
DROP TRIGGER users_counted_insert;
DROP TABLE row_counts;
