-- GET /api/firings lists every automation's firings newest first (keyset on triggered_at, id).
CREATE INDEX firings_by_time ON firings (triggered_at DESC, id DESC);
