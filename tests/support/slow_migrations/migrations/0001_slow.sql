-- As long as an index built over millions of rows, at the scale of the tests' time limits.
CREATE TABLE IF NOT EXISTS slowly_made (n INTEGER);
SELECT pg_sleep(1)
