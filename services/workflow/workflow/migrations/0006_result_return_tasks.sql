-- Builds before 0004 named a processed dossier's task 'return'; this one names it 'result_return', and
-- the task list refused a row with the old name (a 500 for the whole list of a counter holding one).
-- Rows a replica of the old build still writes while this one starts are read under the new name too.
UPDATE tasks SET waiting_for = 'result_return' WHERE waiting_for = 'return';
