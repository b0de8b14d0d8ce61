-- Event history (api/events/): what the persister consumer group copies from the event log,
-- for queries and the live stream. Partitioned by day of `received`, so that retention drops
-- whole partitions instead of deleting rows. A redelivered log record has the same
-- (received, id) and is written once.
CREATE TABLE event_history (
  received     timestamptz NOT NULL,
  id           text NOT NULL,
  occurred     timestamptz NOT NULL,
  event        text NOT NULL,
  resource_id  text NOT NULL,
  resource     jsonb NOT NULL,
  related      jsonb NOT NULL,
  payload      jsonb NOT NULL,
  follows      text,
  -- insertion order, for the live stream and cursors
  seq          bigint GENERATED ALWAYS AS IDENTITY,
  PRIMARY KEY (received, id)
) PARTITION BY RANGE (received);

-- Rows whose day has no partition yet (the persister creates them ahead; this catches the rest).
CREATE TABLE event_history_default PARTITION OF event_history DEFAULT;

CREATE INDEX event_history_occurred ON event_history (occurred DESC, id DESC);
CREATE INDEX event_history_resource ON event_history (resource_id, occurred DESC);
CREATE INDEX event_history_seq ON event_history (seq);
