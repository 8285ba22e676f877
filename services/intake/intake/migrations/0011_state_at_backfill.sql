-- The rows from before 0008 and 0009 learn, from their timeline, when workflow's latest event left them
-- in their status and when their appointment was last set: left NULL, an event of theirs replayed late
-- from the dead-letter topic (the ones queued before the deploy, the likeliest) set their status and
-- appointment back as before. Timeline times are ISO 8601 with their offset.
UPDATE dossiers d SET
    state_at = COALESCE(d.state_at, seen.state_at),
    due_at_at = COALESCE(d.due_at_at, seen.due_at_at)
FROM (
    SELECT dossier_id,
           -- workflow's events only (intake's own and the registries' set no state: tracking.as_applied)
           max(CAST(e->>'at' AS TIMESTAMPTZ)) FILTER (
               WHERE e->>'status' IS NOT NULL AND e->>'event' NOT IN (
                   'DossierSubmitted', 'SupplementProvided', 'FeePaid', 'SatisfactionRated', 'WithdrawalRequested',
                   'RegistryCommandSucceeded', 'RegistryCommandFailed', 'PortalSyncSucceeded', 'PortalSyncFailed')
           ) AS state_at,
           max(CAST(e->>'at' AS TIMESTAMPTZ)) FILTER (
               WHERE e->>'event' IN ('DossierReceived', 'SupplementReceived', 'ApologyLetterIssued',
                                     'DossierStepStarted', 'DossierOverdue', 'DossierDueSoon')
           ) AS due_at_at
      FROM dossiers, jsonb_array_elements(timeline) AS e
     WHERE state_at IS NULL OR due_at_at IS NULL
     GROUP BY dossier_id
) seen
WHERE d.dossier_id = seen.dossier_id AND (d.state_at IS NULL OR d.due_at_at IS NULL);
