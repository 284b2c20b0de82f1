-- The invoices not yet settled with ZATCA, for the metrics (oldest unsettled, deadlines) and the
-- units' reporting backlog: a partial index stays as small as the backlog, however long the
-- history grows.
CREATE INDEX invoices_unsettled ON invoices(egs_unit_id, created_at)
    WHERE status IN ('pending', 'submitted', 'retrying');
