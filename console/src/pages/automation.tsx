import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { ActionRun, Firing } from '../../../schemas/api-resources.ts';
import { api, ApiError, query, type Problem } from '../api.ts';
import type { AutomationEditor } from '../editor.ts';
import { useSession } from '../session.ts';
import { Badge, ErrorBox, Page, Time, useLoad, WriteButton } from '../ui.tsx';
import { ActionRunList } from './action-runs.tsx';

/*
 * One automation: its definition in the editor (schema completion, the API's own path-level
 * validation as you type), save / pause / resume, a backtest of the edited version over the
 * stored history drawn beside what the saved version did, explain for one event, and its
 * firings with their action runs.
 */

interface StoredAutomation {
  readonly name: string;
  readonly enabled: boolean;
  readonly version: number;
  readonly created_at: string;
  readonly updated_at: string;
  readonly [field: string]: unknown;
}

interface TestFiring {
  readonly state: 'triggered' | 'resolved';
  readonly triggered_at: string;
  readonly resolved_at?: string;
  readonly deadline?: string;
  readonly for_each: Record<string, string>;
  readonly count: number;
}

interface TestResult {
  readonly fired: number;
  readonly resolved: number;
  readonly firings: readonly TestFiring[];
  readonly events: number;
  readonly matched: number;
  readonly clock: { start: string; end: string };
}

interface Clause {
  readonly clause: string;
  readonly matched: boolean;
  readonly detail: string;
}

interface Explanation {
  readonly event: string;
  readonly matched: boolean;
  readonly clauses: readonly Clause[];
}

const newAutomation = {
  name: 'sales-refreshed-by-9',
  description: 'sales must be refreshed every weekday by 09:00 Berlin time',
  tags: ['sales'],
  trigger: { type: 'deadline', expect: ['dbt.model.refreshed'], match: { id: 'dbt.model.sales' }, by: '0 9 * * 1-5', timezone: 'Europe/Berlin', grace: '5m' },
  actions: [{ kind: 'send-notification', connection: 'slack-data', channel: '#data-oncall', text: ':rotating_light: sales was not refreshed by {{ firing.deadline }}' }],
};

const leadingKeys = ['name', 'description', 'tags', 'type', 'kind', 'trigger', 'actions', 'actions_on_resolve'];

/** Objects with their defining keys first (the store keeps JSON in its own key order). */
function ordered(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(ordered);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  const rank = (key: string) => {
    const at = leadingKeys.indexOf(key);
    return at < 0 ? leadingKeys.length : at;
  };
  entries.sort(([a], [b]) => rank(a) - rank(b));
  return Object.fromEntries(entries.map(([k, v]) => [k, ordered(v)]));
}

/** The editable document: the stored automation without the server's bookkeeping fields. */
function editable(stored: StoredAutomation): string {
  const { version: _v, created_at: _c, updated_at: _u, enabled: _e, ...rest } = stored;
  return JSON.stringify(ordered(rest), null, 2);
}

const backtestRanges: Array<[string, number]> = [
  ['last hour', 3_600_000],
  ['last 24 hours', 86_400_000],
  ['last 7 days', 7 * 86_400_000],
];

/** Backtest firings and the saved version's real firings on one time axis. */
function Timeline({ start, end, backtest, actual }: { start: number; end: number; backtest: readonly { at: number }[]; actual: readonly { at: number }[] }) {
  const width = 1000;
  const x = (t: number) => ((t - start) / Math.max(1, end - start)) * width;
  return (
    <svg class="timeline" viewBox={`0 0 ${width} 64`} role="img" aria-label={`timeline: ${backtest.length} backtest firings, ${actual.length} real firings`} preserveAspectRatio="none">
      <text x="4" y="14" class="tl-label">
        this version
      </text>
      <line x1="0" x2={width} y1="22" y2="22" class="tl-axis" />
      {backtest.map((f, i) => (
        <rect key={`b${i}`} x={x(f.at) - 2} y="16" width="4" height="12" class="tl-backtest" />
      ))}
      <text x="4" y="44" class="tl-label">
        saved version (real)
      </text>
      <line x1="0" x2={width} y1="52" y2="52" class="tl-axis" />
      {actual.map((f, i) => (
        <rect key={`a${i}`} x={x(f.at) - 2} y="46" width="4" height="12" class="tl-actual" />
      ))}
    </svg>
  );
}

function Backtest({ name, text, isNew }: { name: string; text: string; isNew: boolean }) {
  const [range, setRange] = useState(backtestRanges[2]![1]);
  const [result, setResult] = useState<{ test: TestResult; actual: Firing[]; start: number; end: number } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      const end = Date.now();
      const start = end - range;
      const automation = JSON.parse(text) as Record<string, unknown>;
      const target = typeof automation['name'] === 'string' && automation['name'] ? automation['name'] : name;
      const test = await api.post<TestResult>(`/api/automations/${encodeURIComponent(target)}/test`, { automation, since: new Date(start).toISOString(), until: new Date(end).toISOString() });
      const actual = isNew
        ? []
        : (await api.get<{ firings: Firing[] }>(`/api/automations/${encodeURIComponent(name)}/firings${query({ since: new Date(start).toISOString(), limit: 1000 })}`)).firings;
      setResult({ test, actual, start, end });
    } catch (reason) {
      setError(reason instanceof SyntaxError ? new Error(`the definition is not valid JSON: ${reason.message}`) : reason);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="backtest-title">
      <h2 id="backtest-title">Backtest</h2>
      <div class="toolbar">
        <label>
          Over the{' '}
          <select aria-label="Backtest range" value={range} onChange={(e) => setRange(Number(e.currentTarget.value))}>
            {backtestRanges.map(([label, ms]) => (
              <option key={ms} value={ms}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => void run()} disabled={busy}>
          {busy ? 'Running…' : 'Run backtest'}
        </button>
      </div>
      <ErrorBox error={error} />
      {result && (
        <div class="backtest-result" aria-live="polite">
          <p>
            Over the {backtestRanges.find(([, ms]) => ms === range)?.[0]}, this version <strong>would have fired {result.test.fired} time{result.test.fired === 1 ? '' : 's'}</strong>
            {result.test.resolved > 0 ? ` (${result.test.resolved} resolved later)` : ''}; {result.test.matched} of {result.test.events} stored events matched. The saved version fired{' '}
            {result.actual.length} time{result.actual.length === 1 ? '' : 's'}.
          </p>
          <Timeline
            start={result.start}
            end={result.end}
            backtest={result.test.firings.map((f) => ({ at: Date.parse(f.triggered_at) }))}
            actual={result.actual.map((f) => ({ at: Date.parse(f.triggered_at) }))}
          />
          {result.test.firings.length > 0 && (
            <table>
              <caption class="visually-hidden">Backtest firings</caption>
              <thead>
                <tr>
                  <th scope="col">Would have fired</th>
                  <th scope="col">Deadline</th>
                  <th scope="col">Key</th>
                  <th scope="col">Resolved</th>
                </tr>
              </thead>
              <tbody>
                {result.test.firings.slice(0, 10).map((f, i) => (
                  <tr key={i}>
                    <td>
                      <Time iso={f.triggered_at} />
                    </td>
                    <td>
                      <Time iso={f.deadline} />
                    </td>
                    <td>{Object.entries(f.for_each).map(([k, v]) => `${k}=${v}`).join(' ') || '—'}</td>
                    <td>
                      <Time iso={f.resolved_at} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {result.test.firings.length > 10 && <p class="muted small">… and {result.test.firings.length - 10} more (the first 10 listed).</p>}
        </div>
      )}
    </section>
  );
}

function Explain({ name, text }: { name: string; text: string }) {
  const [eventText, setEventText] = useState(() => sessionStorage.getItem('vigil.explainEvent') ?? '{\n  "event": "dbt.model.refreshed",\n  "resource": { "id": "dbt.model.sales" }\n}');
  const [result, setResult] = useState<Explanation | null>(null);
  const [error, setError] = useState<unknown>(null);
  const run = async () => {
    setError(null);
    try {
      const event = JSON.parse(eventText) as Record<string, unknown>;
      const automation = JSON.parse(text) as Record<string, unknown>;
      const target = typeof automation['name'] === 'string' && automation['name'] ? automation['name'] : name;
      setResult(await api.post<Explanation>(`/api/automations/${encodeURIComponent(target)}/explain`, { event, automation }));
    } catch (reason) {
      setResult(null);
      setError(reason instanceof SyntaxError ? new Error(`not valid JSON: ${reason.message}`) : reason);
    }
  };
  return (
    <section class="card" aria-labelledby="explain-title">
      <h2 id="explain-title">Explain</h2>
      <label for="explain-event">An event (paste one, or use “Explain” on an event’s page)</label>
      <textarea id="explain-event" rows={6} value={eventText} onInput={(e) => setEventText(e.currentTarget.value)} spellcheck={false} />
      <button type="button" onClick={() => void run()}>
        Explain this event
      </button>
      <ErrorBox error={error} />
      {result && (
        <div aria-live="polite">
          <p>
            <Badge status={result.matched ? 'matched' : 'unmatched'} /> {result.matched ? 'The event matches: it counts in the trigger’s window.' : 'The event does not match.'}
          </p>
          <ul class="clauses">
            {result.clauses.map((c, i) => (
              <li key={i} class={c.matched ? 'pass' : 'fail'}>
                <span aria-hidden="true">{c.matched ? '✓' : '✗'}</span>
                <span class="visually-hidden">{c.matched ? 'matched' : 'did not match'}</span> <code>{c.clause}</code> {c.detail}
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}

function Firings({ name }: { name: string }) {
  const firings = useLoad(() => api.get<{ firings: Firing[] }>(`/api/automations/${encodeURIComponent(name)}/firings?limit=50`), [name], 5_000);
  const runs = useLoad(() => api.get<{ action_runs: ActionRun[] }>(`/api/action-runs${query({ automation: name, limit: 200 })}`), [name], 5_000);
  const byFiring = useMemo(() => {
    const map = new Map<string, ActionRun[]>();
    for (const run of runs.data?.action_runs ?? []) map.set(run.firing_id, [...(map.get(run.firing_id) ?? []), run]);
    return map;
  }, [runs.data]);
  const list = firings.data?.firings ?? [];
  return (
    <section class="card" aria-labelledby="firings-title">
      <h2 id="firings-title">Firings</h2>
      <ErrorBox error={firings.error ?? runs.error} />
      {list.length === 0 ? (
        <p class="muted">{firings.data ? 'It has not fired.' : 'loading…'}</p>
      ) : (
        <ul class="firings">
          {list.map((f) => (
            <li key={f.id}>
              <div class="firing-head">
                <Badge status={f.status === 'triggered' ? 'firing' : 'resolved'} /> fired <Time iso={f.triggered_at} />
                {f.deadline && (
                  <>
                    {' '}
                    · deadline <Time iso={f.deadline} />
                  </>
                )}
                {f.resolved_at && (
                  <>
                    {' '}
                    · resolved <Time iso={f.resolved_at} />
                  </>
                )}
                {Object.keys(f.for_each).length > 0 && <code> {Object.entries(f.for_each).map(([k, v]) => `${k}=${v}`).join(' ')}</code>}
              </div>
              <ActionRunList runs={byFiring.get(f.id) ?? []} compact />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function AutomationPage({ name }: { name: string }) {
  const session = useSession();
  const isNew = name === 'new';
  const stored = useLoad(() => (isNew ? Promise.resolve(null) : api.get<StoredAutomation>(`/api/automations/${encodeURIComponent(name)}`)), [name]);
  const host = useRef<HTMLDivElement>(null);
  const editor = useRef<AutomationEditor | null>(null);
  const [text, setText] = useState('');
  const [problems, setProblems] = useState<readonly Problem[] | null>(null);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const loaded = stored.data !== undefined;
  const initial = isNew ? JSON.stringify(newAutomation, null, 2) : stored.data ? editable(stored.data) : '';

  useEffect(() => {
    if (!loaded || !host.current) return;
    let cancelled = false;
    setText(initial);
    // CodeMirror and the schema tooling load with the first automation page (a chunk of their own).
    import('../editor.ts').then(
      ({ createAutomationEditor }) => {
        if (cancelled || !host.current) return;
        editor.current = createAutomationEditor(host.current, initial, { readOnly: !session.canWrite, onChange: setText, onProblems: setProblems });
      },
      (reason: unknown) => setSaveError(reason),
    );
    return () => {
      cancelled = true;
      editor.current?.destroy();
      editor.current = null;
    };
    // the editor is created once per loaded automation; later saves update it in place
  }, [loaded, name]);

  const save = async () => {
    setBusy(true);
    setSaveError(null);
    setNotice(null);
    try {
      const document = JSON.parse(text) as Record<string, unknown>;
      const target = isNew ? (typeof document['name'] === 'string' ? document['name'] : '') : name;
      const answer = await api.put<{ automation: StoredAutomation; created: boolean; changed: boolean }>(`/api/automations/${encodeURIComponent(target)}`, document);
      setNotice(answer.created ? `Created ${answer.automation.name}.` : answer.changed ? `Saved version ${answer.automation.version}.` : 'No change.');
      if (isNew) location.hash = `#/automations/${encodeURIComponent(answer.automation.name)}`;
      else stored.reload();
    } catch (reason) {
      setSaveError(reason instanceof SyntaxError ? new Error(`the definition is not valid JSON: ${reason.message}`) : reason);
    } finally {
      setBusy(false);
    }
  };
  const setEnabled = async (enabled: boolean) => {
    setSaveError(null);
    setNotice(null);
    try {
      await api.patch(`/api/automations/${encodeURIComponent(name)}`, { enabled });
      setNotice(enabled ? 'Resumed.' : 'Paused.');
      stored.reload();
    } catch (reason) {
      setSaveError(reason);
    }
  };

  const automation = stored.data;
  const dirty = loaded && text !== initial;
  return (
    <Page
      title={isNew ? 'New automation' : name}
      actions={
        <>
          {automation && <Badge status={automation.enabled ? 'enabled' : 'paused'} />}
          {automation && (
            <WriteButton canWrite={session.canWrite} onClick={() => void setEnabled(!automation.enabled)}>
              {automation.enabled ? 'Pause' : 'Resume'}
            </WriteButton>
          )}
          <WriteButton canWrite={session.canWrite} kind="primary" busy={busy || (problems !== null && problems.length > 0)} onClick={() => void save()}>
            {isNew ? 'Create' : 'Save'}
          </WriteButton>
        </>
      }
    >
      {stored.error instanceof ApiError && stored.error.status === 404 ? (
        <p class="error" role="alert">
          No automation named <code>{name}</code>. <a href="#/automations/new">Create one</a>.
        </p>
      ) : (
        <ErrorBox error={stored.error} />
      )}
      {!session.canWrite && <p class="notice">This API key is read-only: you can test and explain, but not save, pause or resume.</p>}
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <ErrorBox error={saveError} />
      {automation && (
        <p class="muted small">
          version {automation.version} · updated <Time iso={automation.updated_at} /> {dirty && <strong>· unsaved changes</strong>}
        </p>
      )}
      <div class="editor-layout">
        <div class="editor-column">
          <div class="editor" ref={host} />
          <div class="problems" aria-live="polite" aria-label="Validation">
            {problems === null ? (
              <p class="muted small">Checking…</p>
            ) : problems.length === 0 ? (
              <p class="ok small">✓ valid</p>
            ) : (
              <ul class="problem-list">
                {problems.map((p) => (
                  <li key={`${p.path}:${p.message}`}>
                    <code>{p.path || '(document)'}</code>: {p.message}
                  </li>
                ))}
              </ul>
            )}
          </div>
        </div>
        <div class="side-column">
          <Backtest name={name} text={text} isNew={isNew} />
          <Explain name={name} text={text} />
        </div>
      </div>
      {!isNew && <Firings name={name} />}
    </Page>
  );
}
