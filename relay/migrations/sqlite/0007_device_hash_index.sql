-- Only device documents can arrive twice with the same bytes (a relay-signed document has a fresh
-- UUID, hence a fresh hash, at every signing), so only they need the unit/hash uniqueness; every
-- relay-signed invoice no longer writes a page of this index at a random place.
DROP INDEX invoices_unit_hash;
CREATE UNIQUE INDEX invoices_device_hash ON invoices(egs_unit_id, invoice_hash) WHERE device_signed = 1;
