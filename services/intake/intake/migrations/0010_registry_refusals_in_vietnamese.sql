-- A national system's failure recorded before failures were told by their cause in Vietnamese showed
-- the system's own answer, or our English words for it, on the citizen's timeline and bundle ("…
-- Bảo hiểm xã hội Việt Nam: 409 card_exists: the child already holds card TE179…"): in English, with a
-- card number anyone with the dossier code could read. Those words give way to a neutral sentence (the
-- cause's own sentence needs the code, which only those words kept). Only a registry failure's
-- notes: the failure itself, and the stop or refusal it caused (workflow's words "hệ thống quốc gia
-- không thực hiện được: " before it); an official's own reason is left as typed.
UPDATE dossiers SET timeline = (
    SELECT jsonb_agg(
        CASE
            WHEN e->>'event' = 'RegistryCommandFailed'
            THEN jsonb_set(e, '{note}', to_jsonb(regexp_replace(
                e->>'note', ': ([1-5][0-9]{2} .*|[ -~]+)$', ': hệ thống không thực hiện được yêu cầu')))
            WHEN e->>'event' IN ('DossierStopped', 'DossierRefused')
            THEN jsonb_set(e, '{note}', to_jsonb(regexp_replace(
                e->>'note', '(hệ thống quốc gia không thực hiện được: )[ -~]+$',
                '\1hệ thống không thực hiện được yêu cầu')))
            ELSE e
        END
        ORDER BY position)
    FROM jsonb_array_elements(timeline) WITH ORDINALITY AS entries(e, position))
WHERE timeline @? '$[*] ? (@.event == "RegistryCommandFailed" || @.event == "DossierStopped"
                          || @.event == "DossierRefused")';
UPDATE bundles
   SET reason = regexp_replace(reason, '(hệ thống quốc gia không thực hiện được: )[ -~]+$',
                               '\1hệ thống không thực hiện được yêu cầu')
 WHERE reason ~ 'hệ thống quốc gia không thực hiện được: [ -~]+$';
