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
              <a href={`#/events/${encodeURIComponent(e.id)}`} onClick={() => sessionStorage.setItem(`vigil.event.${e.id}`, JSON.stringify(e))}>
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

interface AutomationSummary {
  readonly name: string;
}

interface Explanation {
  readonly matched: boolean;
  readonly clauses: ReadonlyArray<{ clause: string; matched: boolean; detail: string }>;
}

/** One event: its JSON, and which automations it matches (explain against each). */
export function EventPage({ id }: { id: string }) {
  const cached = sessionStorage.getItem(`vigil.event.${id}`);
  const event = cached ? (JSON.parse(cached) as StoredEvent) : null;
  const matches = useLoad(async () => {
    if (!event) return [];
    const { automations } = await api.get<{ automations: AutomationSummary[] }>('/api/automations');
    const results = await Promise.all(
      automations.slice(0, 200).map(async (a) => ({ name: a.name, explanation: await api.post<Explanation>(`/api/automations/${encodeURIComponent(a.name)}/explain`, { event }) })),
    );
    return results.filter((r) => r.explanation.matched);
  }, [id]);
  return (
    <Page title={event ? event.event : 'Event'}>
      {!event ? (
        <p class="notice">Open events from the Events list to see them here.</p>
      ) : (
        <>
          <p class="muted small">
            id <code>{event.id}</code> · occurred <Time iso={event.occurred} /> · received <Time iso={event.received} />
          </p>
          <Json value={event} />
          <section class="card" aria-labelledby="matches-title">
            <h2 id="matches-title">Automations it matches</h2>
            <ErrorBox error={matches.error} />
            {matches.data && matches.data.length === 0 && <p class="muted">None.</p>}
            <ul>
              {matches.data?.map((m) => (
                <li key={m.name}>
                  <a href={`#/automations/${encodeURIComponent(m.name)}`} onClick={() => sessionStorage.setItem('vigil.explainEvent', JSON.stringify(event, null, 2))}>
                    {m.name}
                  </a>
                </li>
              ))}
            </ul>
          </section>
        </>
      )}
    </Page>
  );
}
