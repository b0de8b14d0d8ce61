import { useMemo, useRef, useState } from 'preact/hooks';
import type { ActionRun, AutomationStatus, KeyState } from '../../../schemas/api-resources.ts';
import { api, query } from '../api.ts';
import { takePrefetched } from '../prefetch.ts';
import { useSession } from '../session.ts';
import { Badge, ErrorBox, Page, relative, useClock, useLoad } from '../ui.tsx';

/*
 * Now: every automation's state per window key, most urgent first (firing, waiting by due time,
 * resolved recently, ok, paused), filterable, refreshed every few seconds without reload. The
 * list is virtualised: only the rows in view are in the DOM, so 10,000 keys render as fast as 20.
 * The Automations view is the same data, one row per automation.
 */

interface TriggerStatus {
  readonly generated_at: string;
  readonly automations: readonly AutomationStatus[];
}

interface Row {
  readonly automation: AutomationStatus;
  readonly key: KeyState;
  /** Lower-case text the filter searches: name, tags, labels. */
  readonly haystack: string;
}

const statusOrder = { firing: 0, waiting: 1, resolved: 2, ok: 3, paused: 4 } as const;
const statuses = Object.keys(statusOrder) as Array<keyof typeof statusOrder>;
const rowHeight = 52;
const refreshMs = 3_000;
export const triggerStatusPath = '/api/trigger-status';

/** Code-unit order: ISO times sort as times, and 10,000 rows sort without the cost of collation. */
function order(a: string | null, b: string | null): number {
  const x = a ?? '';
  const y = b ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
}

function urgency(a: Row, b: Row): number {
  const byStatus = statusOrder[a.key.status] - statusOrder[b.key.status];
  if (byStatus !== 0) return byStatus;
  if (a.key.status === 'firing') return order(a.key.since, b.key.since);
  if (a.key.status === 'waiting') return order(a.key.due_at, b.key.due_at);
  if (a.key.status === 'resolved') return order(b.key.since, a.key.since);
  return order(a.automation.name, b.automation.name) || order(a.key.key, b.key.key);
}

export function rowsOf(automations: readonly AutomationStatus[]): Row[] {
  const rows: Row[] = [];
  for (const automation of automations) {
    const base = `${automation.name} ${automation.tags.map((t) => `tag:${t}`).join(' ')}`.toLowerCase();
    for (const key of automation.keys) {
      const labels = Object.entries(key.for_each)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      rows.push({ automation, key, haystack: `${base} ${labels}`.toLowerCase() });
    }
  }
  return rows.sort(urgency);
}

const historyTitles: Record<string, string> = { m: 'met', M: 'missed', L: 'missed, recovered late', '-': 'before the automation existed' };

function HistoryStrip({ history }: { history: string | null }) {
  if (!history) return <span class="history empty" aria-hidden="true" />;
  const counts = { m: 0, M: 0, L: 0 };
  for (const c of history) if (c in counts) counts[c as keyof typeof counts] += 1;
  return (
    <span class="history" role="img" aria-label={`last ${history.length} windows: ${counts.m} met, ${counts.M} missed, ${counts.L} recovered late`}>
      {[...history].map((c, i) => (
        <i key={i} class={`h-${c === '-' ? 'none' : c === 'm' ? 'met' : c === 'M' ? 'missed' : 'late'}`} title={historyTitles[c]} />
      ))}
    </span>
  );
}

function detail(key: KeyState, now: number, failedRuns: ReadonlyMap<string, number>): string {
  switch (key.status) {
    case 'firing': {
      const failed = key.firing_id ? (failedRuns.get(key.firing_id) ?? 0) : 0;
      return `firing since ${relative(key.since, now).replace(' ago', '')}${failed > 0 ? ` · ${failed} action${failed === 1 ? '' : 's'} failed` : ''}`;
    }
    case 'waiting':
      return `due ${relative(key.due_at, now)}${key.threshold !== null ? ` · ${key.count ?? 0}/${key.threshold}` : ''}`;
    case 'resolved':
      return `resolved ${relative(key.since, now)}`;
    case 'paused':
      return 'paused';
    default:
      return key.last_event_at ? `last event ${relative(key.last_event_at, now)}` : key.count ? `${key.count}/${key.threshold ?? '?'} in window` : 'no events yet';
  }
}

function KeyLabel({ state: k }: { state: KeyState }) {
  const entries = Object.entries(k.for_each);
  if (entries.length === 0) return <span class="muted">{k.key || 'all events'}</span>;
  return (
    <span class="labels">
      {entries.map(([name, value]) => (
        <code key={name}>
          {name}={value}
        </code>
      ))}
    </span>
  );
}

/** A fixed-row-height virtual list: renders the rows in view plus a margin. */
function VirtualRows<T>(props: { items: readonly T[]; height: number; label: string; render: (item: T, index: number) => preact.ComponentChildren }) {
  const [scrollTop, setScrollTop] = useState(0);
  const frame = useRef(0);
  const viewport = Math.min(props.height, Math.max(rowHeight, props.items.length * rowHeight) + 2);
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - 10);
  const last = Math.min(props.items.length, Math.ceil((scrollTop + viewport) / rowHeight) + 10);
  const onScroll = (event: Event) => {
    const target = event.currentTarget as HTMLElement;
    cancelAnimationFrame(frame.current);
    frame.current = requestAnimationFrame(() => setScrollTop(target.scrollTop));
  };
  return (
    <div class="virtual" style={{ height: `${viewport}px` }} onScroll={onScroll} role="list" aria-label={props.label} tabIndex={0}>
      <div style={{ height: `${props.items.length * rowHeight}px`, position: 'relative' }}>
        {props.items.slice(first, last).map((item, offset) => (
          <div
            role="listitem"
            aria-posinset={first + offset + 1}
            aria-setsize={props.items.length}
            class="vrow"
            key={first + offset}
            style={{ transform: `translateY(${(first + offset) * rowHeight}px)`, height: `${rowHeight}px` }}
          >
            {props.render(item, first + offset)}
          </div>
        ))}
      </div>
    </div>
  );
}

export function NowPage({ list = false }: { list?: boolean }) {
  const session = useSession();
  const status = useLoad(() => takePrefetched<TriggerStatus>(triggerStatusPath) ?? api.get<TriggerStatus>(triggerStatusPath), [], refreshMs);
  // Firing rows say when their actions failed (the dead-letter list, newest 1,000).
  const failed = useLoad(() => api.get<{ action_runs: ActionRun[] }>(`/api/action-runs${query({ status: 'failed', limit: 1000 })}`), [], refreshMs * 2);
  const failedRuns = useMemo(() => {
    const counts = new Map<string, number>();
    for (const run of failed.data?.action_runs ?? []) counts.set(run.firing_id, (counts.get(run.firing_id) ?? 0) + 1);
    return counts;
  }, [failed.data]);
  const now = useClock(1_000);
  const [text, setText] = useState('');
  const [shown, setShown] = useState<ReadonlySet<string>>(new Set(statuses));
  const rows = useMemo(() => rowsOf(status.data?.automations ?? []), [status.data]);
  const counts = useMemo(() => {
    const c: Record<string, number> = { firing: 0, waiting: 0, resolved: 0, ok: 0, paused: 0 };
    for (const row of rows) c[row.key.status] = (c[row.key.status] ?? 0) + 1;
    return c;
  }, [rows]);
  const needle = text.trim().toLowerCase();
  const visible = useMemo(() => rows.filter((row) => shown.has(row.key.status) && (needle === '' || needle.split(/\s+/).every((word) => row.haystack.includes(word)))), [rows, shown, needle]);
  const automations = useMemo(() => {
    if (!list) return [];
    const seen = new Map<string, Row[]>();
    for (const row of visible) {
      const group = seen.get(row.automation.name);
      if (group) group.push(row);
      else seen.set(row.automation.name, [row]);
    }
    return [...seen.values()];
  }, [list, visible]);
  const toggle = (s: string) => {
    const next = new Set(shown);
    if (next.has(s)) next.delete(s);
    else next.add(s);
    setShown(next);
  };
  const height = Math.max(320, (typeof window === 'undefined' ? 800 : window.innerHeight) - 260);

  return (
    <Page
      title={list ? 'Automations' : 'Now'}
      actions={
        list && (
          <a class={`button primary${session.canWrite ? '' : ' disabled'}`} href="#/automations/new" aria-disabled={!session.canWrite} title={session.canWrite ? undefined : 'needs an admin API key'}>
            New automation
          </a>
        )
      }
    >
      <div class="toolbar" role="search">
        <label>
          <span class="visually-hidden">Filter by name, tag or label</span>
          <input type="search" placeholder="Filter: name, tag:prod, env=prod…" value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        <fieldset class="status-filter">
          <legend class="visually-hidden">Show states</legend>
          {statuses.map((s) => (
            <label key={s} class={`chip chip-${s}`}>
              <input type="checkbox" checked={shown.has(s)} onChange={() => toggle(s)} />
              {s} <b>{counts[s] ?? 0}</b>
            </label>
          ))}
        </fieldset>
        <span class="muted small" aria-live="polite">
          {status.data ? `${list ? automations.length : visible.length} of ${list ? status.data.automations.length : rows.length} · updated ${relative(status.data.generated_at, now)}` : 'loading…'}
        </span>
      </div>
      <ErrorBox error={status.error} />
      {status.data && rows.length === 0 && (
        <p class="empty-state">
          No automations yet. {session.canWrite ? <a href="#/automations/new">Create one</a> : 'An admin can create one.'}
        </p>
      )}
      {list ? (
        <VirtualRows
          items={automations}
          height={height}
          label="Automations"
          render={(group) => {
            const a = group[0]!.automation;
            const worst = group[0]!.key;
            return (
              <div class="row">
                <Badge status={worst.status} />
                <a class="name" href={`#/automations/${encodeURIComponent(a.name)}`}>
                  {a.name}
                </a>
                <span class="muted">{a.trigger_type}</span>
                <span class="tags">
                  {a.tags.map((t) => (
                    <span class="tag" key={t}>
                      {t}
                    </span>
                  ))}
                </span>
                <span class="detail">{group.length === 1 ? detail(worst, now, failedRuns) : `${group.length} keys · ${group.filter((r) => r.key.status === 'firing').length} firing`}</span>
                <HistoryStrip history={worst.history} />
              </div>
            );
          }}
        />
      ) : (
        <VirtualRows
          items={visible}
          height={height}
          label="Automation states by key, most urgent first"
          render={(row) => (
            <div class={`row status-${row.key.status}`}>
              <Badge status={row.key.status} />
              <a class="name" href={`#/automations/${encodeURIComponent(row.automation.name)}`}>
                {row.automation.name}
              </a>
              <KeyLabel state={row.key} />
              <span class="detail">{detail(row.key, now, failedRuns)}</span>
              <HistoryStrip history={row.key.history} />
            </div>
          )}
        />
      )}
    </Page>
  );
}
