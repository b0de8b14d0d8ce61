-- Dead letters (platform/consumers/dead-letters.ts): log records a consumer could not store as
-- data (a value PostgreSQL refuses, a record written before the intake's rule), kept instead of
-- retried forever or dropped. `record` is the event as JSON text with every control character
-- and lone surrogate escaped, so it always fits in `text`. One row per consumer and log position:
-- a batch handled again after a crash does not add a second.
CREATE TABLE dead_letters (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  consumer     text NOT NULL,
  partition    integer NOT NULL,
  log_offset   bigint NOT NULL,
  event_id     text,
  reason       text NOT NULL,
  record       text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  -- set by whoever re-sent a corrected record (docs/guides/operations.md)
  replayed_at  timestamptz,
  UNIQUE (consumer, partition, log_offset)
);

CREATE INDEX dead_letters_pending ON dead_letters (created_at) WHERE replayed_at IS NULL;
