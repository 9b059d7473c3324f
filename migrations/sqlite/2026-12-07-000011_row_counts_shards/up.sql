-- PostgreSQL's row_counts gets a shard per writer here. SQLite has one writer, so its
-- counts stay one row per bucket; the folder keeps both backends' migration names alike.
SELECT 1;
