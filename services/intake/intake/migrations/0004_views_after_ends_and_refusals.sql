-- Two flags of the citizen view that earlier builds left set for good, put right for dossiers they
-- wrote (later ones are kept right by the events as they come):
-- * awaiting_supplement on a dossier that ended while a supplement was awaited (stopped, withdrawn):
--   the public view said it still awaited one;
-- * withdrawal_requested on a dossier whose last withdrawal request workflow refused: payments (also
--   on one processed since, collecting its result), supplements and a new request stayed refused.
UPDATE dossiers SET awaiting_supplement = false
WHERE awaiting_supplement AND status IN ('refused', 'stopped', 'processed', 'returned', 'withdrawal_requested');

UPDATE dossiers d SET withdrawal_requested = false
WHERE d.withdrawal_requested
  AND (
      SELECT line ->> 'event'
      FROM jsonb_array_elements(d.timeline) WITH ORDINALITY AS t(line, n)
      WHERE line ->> 'event' IN ('WithdrawalRequested', 'WithdrawalRefused')
      ORDER BY n DESC
      LIMIT 1
  ) = 'WithdrawalRefused';
