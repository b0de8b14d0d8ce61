-- Prefect event sources (ingest/prefect/source-positions.ts): per Prefect connection marked as an
-- event source, where its subscription resumes (a time before which every event was appended, and
-- the ids appended since then, so that a resend is skipped) and which Vigil process holds it (a
-- lease renewed while it runs, so that one process subscribes at a time).
CREATE TABLE prefect_event_sources (
  connection   text PRIMARY KEY,
  resume_from  timestamptz,
  seen_ids     jsonb NOT NULL DEFAULT '[]'::jsonb,
  lease_owner  text,
  lease_until  timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
