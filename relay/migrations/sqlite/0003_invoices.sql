-- Invoices, their timeline and the archive of their XML.
-- `seq` orders invoices by creation for cursor pagination (keyset on seq: rows inserted while a
-- client pages through are neither skipped nor repeated). Amounts are decimal strings.
CREATE TABLE invoices (
    seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
    id                   TEXT NOT NULL UNIQUE,
    account_id           TEXT NOT NULL REFERENCES accounts(id),
    egs_unit_id          TEXT NOT NULL REFERENCES egs_units(id),
    environment          TEXT NOT NULL CHECK (environment IN ('sandbox', 'production')),
    uuid                 TEXT NOT NULL,
    invoice_number       TEXT NOT NULL,
    invoice_type         TEXT NOT NULL CHECK (invoice_type IN ('simplified', 'standard')),
    document_type        TEXT NOT NULL CHECK (document_type IN ('invoice', 'credit_note', 'debit_note')),
    status               TEXT NOT NULL,
    icv                  INTEGER NOT NULL,
    invoice_hash         TEXT NOT NULL,
    currency             TEXT NOT NULL,
    subtotal             TEXT NOT NULL,
    vat                  TEXT NOT NULL,
    total                TEXT NOT NULL,
    invoice_date         TEXT NOT NULL,
    invoice_time         TEXT NOT NULL,
    qr_code              TEXT,
    original_invoice_id  TEXT REFERENCES invoices(id),
    has_buyer            INTEGER NOT NULL,
    device_signed        INTEGER NOT NULL,
    -- JSON: the lines as the API shows them; ZATCA's latest messages.
    line_items           TEXT NOT NULL,
    messages             TEXT NOT NULL,
    report_deadline      INTEGER,
    reported_at          INTEGER,
    cleared_at           INTEGER,
    idempotency_key      TEXT,
    request_hash         TEXT,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    -- One document per chain position; one invoice per idempotency key and account.
    UNIQUE (egs_unit_id, icv),
    UNIQUE (account_id, idempotency_key)
);
CREATE INDEX invoices_account_seq ON invoices(account_id, environment, seq);
CREATE INDEX invoices_uuid ON invoices(account_id, uuid);
-- Device custody: the same signed bytes sent twice are one invoice.
CREATE UNIQUE INDEX invoices_unit_hash ON invoices(egs_unit_id, invoice_hash);

CREATE TABLE invoice_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    invoice_id  TEXT NOT NULL REFERENCES invoices(id),
    status      TEXT NOT NULL,
    at          INTEGER NOT NULL,
    messages    TEXT
);
CREATE INDEX invoice_events_invoice ON invoice_events(invoice_id, id);

-- The archive (database backend): the signed XML of every invoice and, for cleared ones,
-- ZATCA's cleared XML. Never pruned: ZATCA requires businesses to keep their invoices.
-- Written before the invoice row (no foreign key), so a crash never leaves a row without XML.
CREATE TABLE invoice_archive (
    invoice_id  TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('signed', 'cleared')),
    xml         BLOB NOT NULL,
    stored_at   INTEGER NOT NULL,
    PRIMARY KEY (invoice_id, kind)
);

-- Device custody: what the relay noticed about the unit's chain (a gap or a fork in the ICV/PIH
-- sequence of the documents the device sent), shown in the unit's status.
ALTER TABLE egs_units ADD COLUMN chain_note TEXT;
