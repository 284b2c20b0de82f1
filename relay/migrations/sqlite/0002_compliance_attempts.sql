-- When a compliance-CSID request was sent and its answer not yet recorded. ZATCA's
-- `POST /compliance` has no idempotency key: a relay that dies with the request in flight finds
-- this set at restart, requests again, uses the newest CSID and notes the possible orphan in
-- the audit log.
ALTER TABLE egs_units ADD COLUMN compliance_attempted_at INTEGER;
