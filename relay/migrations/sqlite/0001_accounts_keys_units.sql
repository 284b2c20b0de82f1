-- Accounts, API keys, EGS units, onboarding jobs and the ZATCA audit log.
-- Identifiers are UUID text; timestamps are Unix milliseconds (INTEGER), which sort and compare
-- without parsing. Secrets never appear in clear: API keys are stored as SHA-256 hashes, and
-- private keys, CSID secrets and pending OTPs as AES-256-GCM envelopes ("v1.<base64>") under
-- the master key, bound to their row and purpose.

CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    name        TEXT,
    email       TEXT,
    plan        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id                   TEXT PRIMARY KEY,
    account_id           TEXT NOT NULL REFERENCES accounts(id),
    name                 TEXT,
    environment          TEXT NOT NULL CHECK (environment IN ('sandbox', 'production')),
    -- SHA-256 of the full key; lookups go through this index.
    key_hash             BLOB NOT NULL UNIQUE,
    -- Prefix, first and last four characters: enough to recognise a key, useless to use it.
    masked               TEXT NOT NULL,
    default_egs_unit_id  TEXT REFERENCES egs_units(id),
    created_at           INTEGER NOT NULL,
    last_used_at         INTEGER,
    revoked_at           INTEGER
);
CREATE INDEX api_keys_account ON api_keys(account_id);

CREATE TABLE egs_units (
    id                      TEXT PRIMARY KEY,
    account_id              TEXT NOT NULL REFERENCES accounts(id),
    unit_name               TEXT NOT NULL,
    environment             TEXT NOT NULL CHECK (environment IN ('sandbox', 'production')),
    phase                   INTEGER NOT NULL CHECK (phase IN (1, 2)),
    invoice_type            TEXT NOT NULL CHECK (invoice_type IN ('standard', 'simplified', 'both')),
    custody                 TEXT NOT NULL CHECK (custody IN ('relay', 'device')),
    -- Public serial shown by the API ("SN-…") and the EGS serial of the CSR ("1-…|2-…|3-…").
    serial_number           TEXT NOT NULL UNIQUE,
    egs_serial              TEXT,
    -- Seller profile (JSON): used for the CSR and as the default seller of the unit's invoices.
    seller                  TEXT NOT NULL,
    onboarding_status       TEXT NOT NULL,
    status_message          TEXT,
    -- ZATCA's messages of the last failure (JSON array), if any.
    errors                  TEXT,
    csr_pem                 TEXT,
    private_key_enc         TEXT,
    -- binarySecurityToken exactly as ZATCA returned it (a certificate: public).
    compliance_token        TEXT,
    compliance_secret_enc   TEXT,
    compliance_request_id   TEXT,
    production_token        TEXT,
    production_secret_enc   TEXT,
    production_request_id   TEXT,
    cert_issued_at          INTEGER,
    cert_expires_at         INTEGER,
    -- The invoice chain: ICV of the last document issued and its hash (the next PIH).
    invoice_counter         INTEGER NOT NULL DEFAULT 0,
    last_invoice_hash       TEXT NOT NULL,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
);
CREATE INDEX egs_units_account_env ON egs_units(account_id, environment);

-- Compliance documents accepted by ZATCA for a unit (one row per required kind).
CREATE TABLE compliance_documents (
    egs_unit_id   TEXT NOT NULL REFERENCES egs_units(id),
    kind          TEXT NOT NULL,
    icv           INTEGER NOT NULL,
    uuid          TEXT NOT NULL,
    invoice_hash  TEXT NOT NULL,
    -- ZATCA's validation messages (JSON array; warnings are kept).
    messages      TEXT NOT NULL,
    accepted_at   INTEGER NOT NULL,
    PRIMARY KEY (egs_unit_id, kind)
);

-- Durable background jobs. A job is claimed by setting state 'running' with a lease; a crash
-- leaves the lease to expire (and start-up releases it at once), so the job runs again. Jobs are
-- idempotent: each step records its result on the unit before the next one starts.
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    egs_unit_id      TEXT NOT NULL REFERENCES egs_units(id),
    -- JSON; secret fields inside are encrypted envelopes.
    payload          TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    lease_until      INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs(state, next_attempt_at);

-- Every request to ZATCA and its response, per unit. Authorization and OTP headers and the
-- `secret` of CSID responses are replaced by "[redacted]" before they are written.
CREATE TABLE zatca_audit (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    egs_unit_id       TEXT NOT NULL REFERENCES egs_units(id),
    at                INTEGER NOT NULL,
    operation         TEXT NOT NULL,
    method            TEXT NOT NULL,
    url               TEXT NOT NULL,
    request_headers   TEXT NOT NULL,
    request_body      TEXT,
    response_status   INTEGER,
    response_body     TEXT,
    duration_ms       INTEGER NOT NULL,
    error             TEXT
);
CREATE INDEX zatca_audit_unit ON zatca_audit(egs_unit_id, id);
