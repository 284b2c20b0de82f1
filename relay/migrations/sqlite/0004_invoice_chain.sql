-- Device custody: where each device document stood in the unit's chain when it was recorded
-- (JSON: status, expected_icv, expected_pih), so that sending the same bytes again repeats the
-- first answer instead of checking the document against a chain that has moved on.
ALTER TABLE invoices ADD COLUMN chain TEXT;
