-- A processed dossier waits on its receiving counter's task list until the result is handed over
-- (waiting_for 'result_return'); the row says how: at the counter, or posted (an online result is sent at
-- once and never waits). Dossiers processed before this migration have no such task.
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS delivery TEXT;
