import { useEffect, useRef, useState } from 'preact/hooks';
import { api, query, readEventStream } from '../api.ts';
import { ErrorBox, Json, Page, Time, useLoad } from '../ui.tsx';

/*
 * Events: query the history by time, name glob, resource and labels; a live tail that renders
 * at most four times a second however fast events arrive (the newest 500 kept); an event's page.
 */

export interface StoredEvent {
  readonly id: string;
  readonly event: string;
  readonly occurred: string;
  readonly received: string;
  readonly resource: Record<string, string>;
  readonly related?: ReadonlyArray<Record<string, string>>;
  readonly payload?: unknown;
}

const tailKeep = 200;

/** The event as sent (the stored one adds `received`, which the intake sets itself). */
export function nativeEvent(event: StoredEvent): Omit<StoredEvent, 'received'> {
  const { received: _received, ...native } = event;
  return native;
}
const renderEveryMs = 250;

function labelParams(text: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const pair of text.split(/[\s,]+/)) {
    const at = pair.indexOf('=');
    if (at > 0) params[`label.${pair.slice(0, at)}`] = pair.slice(at + 1);
  }
  return params;
}

function localInput(iso: string): string {
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

function EventTable({ events }: { events: readonly StoredEvent[] }) {
  if (events.length === 0) return <p class="empty-state">No events.</p>;
  return (
    <table>
      <caption class="visually-hidden">Events, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Occurred</th>
          <th scope="col">Event</th>
          <th scope="col">Resource</th>
          <th scope="col">Labels</th>
        </tr>
      </thead>
      <tbody>
        {events.map((e) => (
          <tr key={e.id}>
            <td>
              <Time iso={e.occurred} />
            </td>
            <td>
              <a href={`#/events/${encodeURIComponent(e.id)}/${encodeURIComponent(e.occurred)}`}>
                {e.event}
              </a>
            </td>
            <td>
              <code>{e.resource['id']}</code>
            </td>
            <td>
              <span class="labels">
                {Object.entries(e.resource)
                  .filter(([k]) => k !== 'id')
                  .map(([k, v]) => (
                    <code key={k}>
                      {k}={v}
                    </code>
                  ))}
              </span>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function LiveTail({ filter }: { filter: string }) {
  const [events, setEvents] = useState<readonly StoredEvent[]>([]);
  const [rate, setRate] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const buffer = useRef<StoredEvent[]>([]);
  useEffect(() => {
    const abort = new AbortController();
    let received = 0;
    let windowStart = Date.now();
    readEventStream(`/api/events/stream${filter}`, (data) => {
      buffer.current.push(data as StoredEvent);
      received += 1;
    }, abort.signal).catch((reason: unknown) => {
      if (!abort.signal.aborted) setError(reason);
    });
    // Render on a clock, not per event: 1,000 events/s cost four renders a second.
    const timer = setInterval(() => {
      if (buffer.current.length > 0) {
        const fresh = buffer.current.reverse();
        buffer.current = [];
        setEvents((old) => [...fresh.slice(0, tailKeep), ...old].slice(0, tailKeep));
      }
      const now = Date.now();
      if (now - windowStart >= 1_000) {
        setRate(Math.round((received * 1000) / (now - windowStart)));
        received = 0;
        windowStart = now;
      }
    }, renderEveryMs);
    return () => {
      abort.abort();
      clearInterval(timer);
    };
  }, [filter]);
  return (
    <>
      <p class="muted small" aria-live="off">
        <span class="live-dot" aria-hidden="true" /> live · <span data-testid="tail-rate">{rate}</span> events/s · showing the newest {Math.min(events.length, tailKeep)}
      </p>
      <ErrorBox error={error} />
      <EventTable events={events} />
    </>
  );
}

export function EventsPage() {
  const [form, setForm] = useState({ event: '', resource: '', labels: '', since: '', until: '' });
  const [applied, setApplied] = useState(form);
  const [live, setLive] = useState(false);
  const params = {
    event: applied.event,
    resource: applied.resource,
    since: applied.since ? new Date(applied.since).toISOString() : '',
    until: applied.until ? new Date(applied.until).toISOString() : '',
    ...labelParams(applied.labels),
  };
  const history = useLoad(() => (live ? Promise.resolve(null) : api.get<{ events: StoredEvent[]; next?: string }>(`/api/events${query({ ...params, limit: 200 })}`)), [JSON.stringify(applied), live]);
  const field = (name: keyof typeof form, label: string, type: 'text' | 'datetime-local' = 'text', placeholder = '') => {
    const onInput = (e: preact.TargetedInputEvent<HTMLInputElement>) => setForm({ ...form, [name]: e.currentTarget.value });
    return (
      <label>
        {label}{' '}
        {type === 'text' ? <input type="text" value={form[name]} placeholder={placeholder} onInput={onInput} /> : <input type="datetime-local" value={form[name]} onInput={onInput} />}
      </label>
    );
  };
  return (
    <Page
      title="Events"
      actions={
        <label class="switch">
          <input type="checkbox" checked={live} onChange={(e) => setLive(e.currentTarget.checked)} /> Live tail
        </label>
      }
    >
      <form
        class="toolbar wrap"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(form);
          history.reload();
        }}
      >
        {field('event', 'Event', 'text', 'airflow.dag_run.*')}
        {field('resource', 'Resource', 'text', 'dbt.model.sales')}
        {field('labels', 'Labels', 'text', 'env=prod')}
        {!live && field('since', 'Since', 'datetime-local')}
        {!live && field('until', 'Until', 'datetime-local')}
        <button type="submit">Apply</button>
      </form>
      {live ? (
        <LiveTail filter={query({ event: params.event, resource: params.resource, ...labelParams(applied.labels) })} />
      ) : (
        <>
          <ErrorBox error={history.error} />
          {history.data && <EventTable events={history.data.events} />}
          {history.data?.next && <p class="muted small">Showing the newest 200; narrow the time range to see older events.</p>}
        </>
      )}
      <p class="muted small">Times are shown in your time zone{form.since ? ` (since ${localInput(new Date(form.since).toISOString())})` : ''}.</p>
    </Page>
  );
}

interface MatchResult {
  readonly checked: number;
  readonly matched: ReadonlyArray<{ name: string; enabled: boolean; clauses: ReadonlyArray<{ clause: string; matched: boolean; detail: string }> }>;
}

interface Firing {
  readonly id: string;
  readonly automation_name: string;
  readonly status: 'triggered' | 'resolved';
  readonly triggered_at: string;
  readonly event_ids: readonly string[];
}

/**
 * One event (found by its id and occurred time, which the link carries: the history is indexed by
 * time): its JSON, the automations it matches (POST /api/automations/match) and the firings it
 * was part of (GET /api/firings since it occurred, by their event ids).
 */
export function EventPage({ id, occurred }: { id: string; occurred: string | undefined }) {
  const event = useLoad(async () => {
    if (!occurred) return null;
    const at = Date.parse(occurred);
    const page = await api.get<{ events: StoredEvent[] }>(`/api/events${query({ since: new Date(at).toISOString(), until: new Date(at + 1).toISOString(), limit: 1000 })}`);
    return page.events.find((e) => e.id === id) ?? null;
  }, [id, occurred]);
  const found = event.data;
  const matches = useLoad(() => (found ? api.post<MatchResult>('/api/automations/match', { event: nativeEvent(found) }) : Promise.resolve(null)), [found]);
  const firings = useLoad(async () => {
    if (!found) return null;
    const page = await api.get<{ firings: Firing[] }>(`/api/firings${query({ since: found.occurred, limit: 1000 })}`);
    return page.firings.filter((f) => f.event_ids.includes(found.id));
  }, [found]);
  return (
    <Page title={found ? found.event : 'Event'}>
      <ErrorBox error={event.error} />
      {event.data === null && <p class="notice">No event {id} is stored at that time (the history keeps events for a limited time).</p>}
      {found && (
        <>
          <p class="muted small">
            id <code>{found.id}</code> · occurred <Time iso={found.occurred} /> · received <Time iso={found.received} />
          </p>
          <Json value={found} />
          <section class="card" aria-labelledby="matches-title">
            <h2 id="matches-title">Automations it matches</h2>
            <ErrorBox error={matches.error} />
            {matches.data && (
              <p class="muted small">
                {matches.data.matched.length} of {matches.data.checked} automations; whether a match fired depends on its window.
              </p>
            )}
            <ul>
              {matches.data?.matched.map((m) => (
                <li key={m.name}>
                  <a href={`#/automations/${encodeURIComponent(m.name)}`} onClick={() => sessionStorage.setItem('vigil.explainEvent', JSON.stringify(nativeEvent(found), null, 2))}>
                    {m.name}
                  </a>
                  {!m.enabled && <span class="muted small"> (paused)</span>}
                </li>
              ))}
            </ul>
          </section>
          <section class="card" aria-labelledby="caused-title">
            <h2 id="caused-title">Firings it was part of</h2>
            <ErrorBox error={firings.error} />
            {firings.data && firings.data.length === 0 && <p class="muted">None.</p>}
            <ul>
              {firings.data?.map((f) => (
                <li key={f.id}>
                  <a href={`#/automations/${encodeURIComponent(f.automation_name)}`}>{f.automation_name}</a> fired <Time iso={f.triggered_at} /> ({f.status})
                </li>
              ))}
            </ul>
          </section>
        </>
      )}
    </Page>
  );
}
