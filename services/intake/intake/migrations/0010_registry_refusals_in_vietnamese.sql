-- A national system's refusal recorded before registry refusals were told by their cause showed the
-- system's own answer on the citizen's timeline and bundle ("… Bảo hiểm xã hội Việt Nam: 409
-- card_exists: the child already holds card TE179…"): in English, with a card number anyone with
-- the dossier code could read. Its status, code and words give way to the general sentence (the
-- code's own sentence needs the code, which the note kept only in those words).
UPDATE dossiers SET timeline = (
    SELECT jsonb_agg(
        CASE WHEN e->>'event' IN ('RegistryCommandFailed', 'DossierStopped', 'DossierRefused')
                  AND e->>'note' ~ ': [1-5][0-9]{2}( |$)'
             THEN jsonb_set(e, '{note}', to_jsonb(
                  regexp_replace(e->>'note', ': [1-5][0-9]{2}( .*)?$', ': hệ thống từ chối thực hiện yêu cầu')))
             ELSE e END
        ORDER BY position)
    FROM jsonb_array_elements(timeline) WITH ORDINALITY AS entries(e, position))
WHERE timeline::text ~ ': [1-5][0-9]{2}( |")';
UPDATE bundles
   SET reason = regexp_replace(reason, ': [1-5][0-9]{2}( .*)?$', ': hệ thống từ chối thực hiện yêu cầu')
 WHERE reason ~ ': [1-5][0-9]{2}( |$)';
