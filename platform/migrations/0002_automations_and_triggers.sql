-- Automations, trigger state, firings and the outboxes of the trigger evaluator (triggers/).

CREATE TABLE automations (
  name        text PRIMARY KEY,
  definition  jsonb NOT NULL,          -- the validated automation document (defaults filled in)
  enabled     boolean NOT NULL DEFAULT true,
  version     bigint NOT NULL DEFAULT 1,  -- +1 on every change
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every change is announced to the evaluators (payload: the automation name).
CREATE FUNCTION vigil_notify_automations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('vigil_automations', COALESCE(NEW.name, OLD.name));
  RETURN NULL;
END $$;

CREATE TRIGGER automations_notify AFTER INSERT OR UPDATE OR DELETE ON automations
  FOR EACH ROW EXECUTE FUNCTION vigil_notify_automations();

-- Positions of consumer groups that store them with their state (the trigger evaluator):
-- updated in the same transaction as the state the consumed records produced.
CREATE TABLE consumer_positions (
  consumer_group text NOT NULL,
  partition      int NOT NULL,
  next_offset    bigint NOT NULL,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer_group, partition)
);

-- Window state of one automation for one for_each key ('' without for_each).
CREATE TABLE trigger_state (
  automation_name text NOT NULL,
  state_key       text NOT NULL,
  trigger_hash    text NOT NULL,       -- state is reset when the trigger definition changes
  for_each        jsonb NOT NULL DEFAULT '{}',
  state           jsonb NOT NULL,
  due_at          timestamptz,         -- when the deadline timer must look at it next
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (automation_name, state_key)
);
CREATE INDEX trigger_state_due ON trigger_state (due_at) WHERE due_at IS NOT NULL;

CREATE TABLE firings (
  id              uuid PRIMARY KEY,    -- uuid v5 of automation, trigger hash, state key and firing number
  automation_name text NOT NULL,
  state_key       text NOT NULL,
  for_each        jsonb NOT NULL,
  status          text NOT NULL CHECK (status IN ('triggered', 'resolved')),
  triggered_at    timestamptz NOT NULL,
  resolved_at     timestamptz,
  window_start    timestamptz NOT NULL,
  window_end      timestamptz NOT NULL,
  deadline        timestamptz,
  event_count     int NOT NULL,
  event_ids       jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX firings_by_automation ON firings (automation_name, triggered_at DESC);

-- One row per (firing, phase, action): relayed to the action queue with `id` as the job id.
CREATE TABLE action_outbox (
  id              uuid PRIMARY KEY,    -- deterministic (uuid v5 of firing id + phase + action index); becomes the queue job id
  firing_id       uuid NOT NULL,
  automation_name text NOT NULL,
  phase           text NOT NULL CHECK (phase IN ('triggered','resolved')),
  action_index    int NOT NULL,
  action          jsonb NOT NULL,      -- the action definition as saved in the automation
  context         jsonb NOT NULL,      -- a FiringContext (schemas/firing.ts)
  created_at      timestamptz NOT NULL DEFAULT now(),
  relayed_at      timestamptz          -- set by the relay once enqueued
);
CREATE INDEX action_outbox_pending ON action_outbox (created_at) WHERE relayed_at IS NULL;

-- Events Vigil emits (vigil.automation.triggered|resolved, vigil.event.late), written with the
-- state that caused them and appended to the event log by the lifecycle event relay.
CREATE TABLE event_outbox (
  id          uuid PRIMARY KEY,        -- the event id (deterministic)
  event       jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  appended_at timestamptz
);
CREATE INDEX event_outbox_pending ON event_outbox (created_at) WHERE appended_at IS NULL;
