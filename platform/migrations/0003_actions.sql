-- Action execution: one row per (firing, action) run, and the encrypted connections actions use.
-- The action_outbox table (filled by the trigger evaluator) comes from 0002.

-- One row per outbox row: created as `queued` by the outbox relay, updated by the workers on
-- every attempt. `failed` rows are the dead-letter list (with the reason in `error`).
CREATE TABLE action_runs (
  id                uuid PRIMARY KEY,          -- = action_outbox.id = queue job id = idempotency key
  firing_id         uuid NOT NULL,
  automation_name   text NOT NULL,
  phase             text NOT NULL CHECK (phase IN ('triggered', 'resolved')),
  action_index      int NOT NULL,
  kind              text NOT NULL,
  status            text NOT NULL CHECK (status IN ('queued', 'running', 'retrying', 'succeeded', 'failed')),
  attempts          int NOT NULL DEFAULT 0,
  created_at        timestamptz NOT NULL DEFAULT now(),
  first_started_at  timestamptz,
  last_started_at   timestamptz,
  finished_at       timestamptz,
  next_attempt_at   timestamptz,
  duration_ms       int,                       -- of the last attempt
  response_status   int,
  response_body     text,                      -- truncated
  error             text,
  result            jsonb,                     -- per kind: Slack channel+ts, Prefect flow run id, …
  updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX action_runs_by_status ON action_runs (status, created_at DESC);
CREATE INDEX action_runs_by_automation ON action_runs (automation_name, created_at DESC);
CREATE INDEX action_runs_by_firing ON action_runs (firing_id);
CREATE INDEX action_runs_by_time ON action_runs (created_at DESC);

-- Named credentials. Secret fields are one AES-256-GCM ciphertext (key from VIGIL_SECRET_KEY,
-- the name and kind as additional authenticated data); the other fields are plain JSON.
CREATE TABLE connections (
  name         text PRIMARY KEY,
  kind         text NOT NULL CHECK (kind IN ('slack', 'webhook', 'prefect', 'airflow')),
  config       jsonb NOT NULL,
  secret_iv    bytea NOT NULL,
  secret_data  bytea NOT NULL,
  secret_tag   bytea NOT NULL,
  key_id       text NOT NULL,                  -- fingerprint of the key that encrypted it
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
