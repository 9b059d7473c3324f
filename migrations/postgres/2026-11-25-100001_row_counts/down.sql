DROP TRIGGER groups_counted_delete ON groups;
DROP TRIGGER groups_counted_insert ON groups;
DROP TRIGGER users_counted_delete ON users;
DROP TRIGGER users_counted_insert ON users;
DROP FUNCTION roster_count_rows();
DROP TABLE row_counts;
