-- The relay's schema on PostgreSQL: the same tables and domain semantics as the SQLite
-- migrations 0001-0007, written once. Identifiers are UUIDs; timestamps are Unix milliseconds
-- (BIGINT), as on SQLite, so both stores compare and order times the same way; XML is BYTEA;
-- JSON columns are TEXT, written and read only by the relay. Secrets are never stored in clear
-- (API keys as SHA-256 hashes, private keys, CSID secrets, OTPs and webhook secrets as AES-GCM
-- envelopes under the master key).

CREATE TABLE accounts (
    id          UUID PRIMARY KEY,
    name        TEXT,
    email       TEXT,
    plan        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE egs_units (
    id                       UUID PRIMARY KEY,
    account_id               UUID NOT NULL REFERENCES accounts(id),
    unit_name                TEXT NOT NULL,
    environment              TEXT NOT NULL CHECK (environment IN ('sandbox', 'production')),
    phase                    SMALLINT NOT NULL CHECK (phase IN (1, 2)),
    invoice_type             TEXT NOT NULL CHECK (invoice_type IN ('standard', 'simplified', 'both')),
    custody                  TEXT NOT NULL CHECK (custody IN ('relay', 'device')),
    serial_number            TEXT NOT NULL UNIQUE,
    egs_serial               TEXT,
    seller                   TEXT NOT NULL,
    onboarding_status        TEXT NOT NULL,
    status_message           TEXT,
    errors                   TEXT,
    csr_pem                  TEXT,
    private_key_enc          TEXT,
    compliance_token         TEXT,
    compliance_secret_enc    TEXT,
    compliance_request_id    TEXT,
    production_token         TEXT,
    production_secret_enc    TEXT,
    production_request_id    TEXT,
    cert_issued_at           BIGINT,
    cert_expires_at          BIGINT,
    -- The invoice chain: ICV of the last document issued and its hash (the next PIH). Advanced
    -- only by a conditional UPDATE (counter = icv - 1), so relays sharing the database never
    -- hand out one position twice.
    invoice_counter          BIGINT NOT NULL DEFAULT 0,
    last_invoice_hash        TEXT NOT NULL,
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL,
    compliance_attempted_at  BIGINT,
    chain_note               TEXT
);
CREATE INDEX egs_units_account_env ON egs_units(account_id, environment);

CREATE TABLE api_keys (
    id                   UUID PRIMARY KEY,
    account_id           UUID NOT NULL REFERENCES accounts(id),
    name                 TEXT,
    environment          TEXT NOT NULL CHECK (environment IN ('sandbox', 'production')),
    key_hash             BYTEA NOT NULL UNIQUE,
    masked               TEXT NOT NULL,
    default_egs_unit_id  UUID REFERENCES egs_units(id),
    created_at           BIGINT NOT NULL,
    last_used_at         BIGINT,
    revoked_at           BIGINT
);
CREATE INDEX api_keys_account ON api_keys(account_id);

CREATE TABLE compliance_documents (
    egs_unit_id   UUID NOT NULL REFERENCES egs_units(id),
    kind          TEXT NOT NULL,
    icv           BIGINT NOT NULL,
    uuid          TEXT NOT NULL,
    invoice_hash  TEXT NOT NULL,
    messages      TEXT NOT NULL,
    accepted_at   BIGINT NOT NULL,
    PRIMARY KEY (egs_unit_id, kind)
);

-- Durable jobs. Claimed with FOR UPDATE SKIP LOCKED: each due job goes to exactly one relay.
-- `owner` is the claiming relay's key; the relay holds a session advisory lock on that key as
-- long as it lives, so a job whose owner's lock is gone (the relay died) is claimed again at
-- once instead of when its lease ends.
CREATE TABLE jobs (
    id               UUID PRIMARY KEY,
    kind             TEXT NOT NULL,
    egs_unit_id      UUID NOT NULL REFERENCES egs_units(id),
    payload          TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    lease_until      BIGINT,
    owner            BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs(state, next_attempt_at);
CREATE INDEX jobs_open_unit ON jobs(egs_unit_id) WHERE state IN ('queued', 'running');

CREATE TABLE zatca_audit (
    id                BIGSERIAL PRIMARY KEY,
    egs_unit_id       UUID NOT NULL REFERENCES egs_units(id),
    at                BIGINT NOT NULL,
    operation         TEXT NOT NULL,
    method            TEXT NOT NULL,
    url               TEXT NOT NULL,
    request_headers   TEXT NOT NULL,
    request_body      TEXT,
    response_status   INTEGER,
    response_body     TEXT,
    duration_ms       BIGINT NOT NULL,
    error             TEXT
);
CREATE INDEX zatca_audit_unit ON zatca_audit(egs_unit_id, id);
CREATE INDEX zatca_audit_at ON zatca_audit(at);

CREATE TABLE invoices (
    seq                  BIGSERIAL PRIMARY KEY,
    id                   UUID NOT NULL UNIQUE,
    account_id           UUID NOT NULL REFERENCES accounts(id),
    egs_unit_id          UUID NOT NULL REFERENCES egs_units(id),
    environment          TEXT NOT NULL CHECK (environment IN ('sandbox', 'production')),
    uuid                 TEXT NOT NULL,
    invoice_number       TEXT NOT NULL,
    invoice_type         TEXT NOT NULL CHECK (invoice_type IN ('simplified', 'standard')),
    document_type        TEXT NOT NULL CHECK (document_type IN ('invoice', 'credit_note', 'debit_note')),
    status               TEXT NOT NULL,
    icv                  BIGINT NOT NULL,
    invoice_hash         TEXT NOT NULL,
    currency             TEXT NOT NULL,
    subtotal             TEXT NOT NULL,
    vat                  TEXT NOT NULL,
    total                TEXT NOT NULL,
    invoice_date         TEXT NOT NULL,
    invoice_time         TEXT NOT NULL,
    qr_code              TEXT,
    original_invoice_id  UUID REFERENCES invoices(id),
    has_buyer            BOOLEAN NOT NULL,
    device_signed        BOOLEAN NOT NULL,
    line_items           TEXT NOT NULL,
    messages             TEXT NOT NULL,
    report_deadline      BIGINT,
    reported_at          BIGINT,
    cleared_at           BIGINT,
    idempotency_key      TEXT,
    request_hash         TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    chain                TEXT,
    -- One document per chain position; one invoice per idempotency key and account, across
    -- every relay sharing the database.
    CONSTRAINT invoices_chain_position UNIQUE (egs_unit_id, icv),
    CONSTRAINT invoices_idempotency UNIQUE (account_id, idempotency_key)
);
CREATE INDEX invoices_account_seq ON invoices(account_id, environment, seq);
CREATE INDEX invoices_uuid ON invoices(account_id, uuid);
CREATE INDEX invoices_original ON invoices(original_invoice_id) WHERE original_invoice_id IS NOT NULL;
CREATE UNIQUE INDEX invoices_device_hash ON invoices(egs_unit_id, invoice_hash) WHERE device_signed;
CREATE INDEX invoices_unsettled ON invoices(egs_unit_id, created_at)
    WHERE status IN ('pending', 'submitted', 'retrying');

CREATE TABLE invoice_events (
    id          BIGSERIAL PRIMARY KEY,
    invoice_id  UUID NOT NULL REFERENCES invoices(id),
    status      TEXT NOT NULL,
    at          BIGINT NOT NULL,
    messages    TEXT
);
CREATE INDEX invoice_events_invoice ON invoice_events(invoice_id, id);

-- The archive (database backend). Written before the invoice row (no foreign key).
CREATE TABLE invoice_archive (
    invoice_id  UUID NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('signed', 'cleared')),
    xml         BYTEA NOT NULL,
    stored_at   BIGINT NOT NULL,
    PRIMARY KEY (invoice_id, kind)
);

CREATE TABLE webhook_endpoints (
    id               UUID PRIMARY KEY,
    account_id       UUID NOT NULL REFERENCES accounts(id),
    environment      TEXT NOT NULL CHECK (environment IN ('sandbox', 'production')),
    url              TEXT NOT NULL,
    description      TEXT,
    events           TEXT NOT NULL,
    secret_enc       TEXT NOT NULL,
    enabled          BOOLEAN NOT NULL,
    disabled_reason  TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_account ON webhook_endpoints(account_id, environment, created_at);

CREATE TABLE webhook_events (
    id           UUID PRIMARY KEY,
    account_id   UUID NOT NULL REFERENCES accounts(id),
    environment  TEXT NOT NULL,
    egs_unit_id  UUID NOT NULL REFERENCES egs_units(id),
    type         TEXT NOT NULL,
    body         TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               BIGSERIAL PRIMARY KEY,
    endpoint_id      UUID NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id         UUID NOT NULL REFERENCES webhook_events(id),
    event_type       TEXT NOT NULL,
    attempt          INTEGER NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('delivered', 'retrying', 'failed', 'gone')),
    response_status  INTEGER,
    duration_ms      BIGINT NOT NULL,
    error            TEXT,
    at               BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, id);
