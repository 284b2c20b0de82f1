-- Webhooks: endpoints per account and environment, the events emitted (their body is fixed at
-- emission so that every attempt signs the same bytes), and one row per delivery attempt.
CREATE TABLE webhook_endpoints (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts(id),
    environment      TEXT NOT NULL CHECK (environment IN ('sandbox', 'production')),
    url              TEXT NOT NULL,
    description      TEXT,
    -- JSON array of event types; empty: every type.
    events           TEXT NOT NULL,
    -- The signing secret, encrypted under the master key.
    secret_enc       TEXT NOT NULL,
    enabled          INTEGER NOT NULL,
    disabled_reason  TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_account ON webhook_endpoints(account_id, environment, created_at);

CREATE TABLE webhook_events (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(id),
    environment  TEXT NOT NULL,
    egs_unit_id  TEXT NOT NULL REFERENCES egs_units(id),
    type         TEXT NOT NULL,
    body         TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL REFERENCES webhook_events(id),
    event_type       TEXT NOT NULL,
    attempt          INTEGER NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('delivered', 'retrying', 'failed', 'gone')),
    response_status  INTEGER,
    duration_ms      INTEGER NOT NULL,
    error            TEXT,
    at               INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, id);
