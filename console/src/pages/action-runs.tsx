import { useState } from 'preact/hooks';
import type { ActionRun } from '../../../schemas/api-resources.ts';
import { api, query } from '../api.ts';
import { useSession } from '../session.ts';
import { Badge, ErrorBox, Json, Page, Time, useLoad, WriteButton } from '../ui.tsx';

/* Action runs by status; the failed ones are the dead-letter list, retried one or many at a time. */

const statuses = ['', 'failed', 'retrying', 'queued', 'running', 'succeeded'] as const;

export function ActionRunList({ runs, compact = false, selected, onSelect }: { runs: readonly ActionRun[]; compact?: boolean; selected?: ReadonlySet<string>; onSelect?: (id: string, on: boolean) => void }) {
  if (runs.length === 0) return compact ? <p class="muted small">No action runs.</p> : <p class="empty-state">No action runs.</p>;
  return (
    <table class={compact ? 'compact' : ''}>
      <caption class="visually-hidden">Action runs</caption>
      <thead>
        <tr>
          {onSelect && (
            <th scope="col">
              <span class="visually-hidden">Select</span>
            </th>
          )}
          <th scope="col">Status</th>
          {!compact && <th scope="col">Automation</th>}
          <th scope="col">Action</th>
          <th scope="col">Attempts</th>
          <th scope="col">Created</th>
          <th scope="col">Outcome</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((run) => (
          <tr key={run.id} data-run={run.id}>
            {onSelect && (
              <td>
                {run.status === 'failed' && (
                  <input type="checkbox" aria-label={`select run ${run.id}`} checked={selected?.has(run.id) ?? false} onChange={(e) => onSelect(run.id, e.currentTarget.checked)} />
                )}
              </td>
            )}
            <td>
              <Badge status={run.status} />
            </td>
            {!compact && (
              <td>
                <a href={`#/automations/${encodeURIComponent(run.automation_name)}`}>{run.automation_name}</a>
              </td>
            )}
            <td>
              {run.kind} <span class="muted small">{run.phase === 'resolved' ? 'on resolve' : ''} #{run.action_index}</span>
            </td>
            <td>{run.attempts}</td>
            <td>
              <Time iso={run.created_at} />
            </td>
            <td class="outcome">
              {run.error && <span class="error-text">{run.error}</span>}
              {run.response_status !== null && <span class="muted small"> HTTP {run.response_status}</span>}
              {!compact && (run.response_body || run.result !== null) && (
                <details>
                  <summary>response</summary>
                  {run.response_body && <pre class="json">{run.response_body}</pre>}
                  {run.result !== null && <Json value={run.result} />}
                </details>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ActionRunsPage() {
  const session = useSession();
  const [status, setStatus] = useState<string>('failed');
  const [automation, setAutomation] = useState('');
  const runs = useLoad(() => api.get<{ action_runs: ActionRun[] }>(`/api/action-runs${query({ status, automation, limit: 200 })}`), [status, automation], 5_000);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [outcome, setOutcome] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const retry = async (ids: readonly string[]) => {
    setError(null);
    setOutcome(null);
    const results = await Promise.allSettled(ids.map((id) => api.post(`/api/action-runs/${id}/retry`)));
    const failed = results.filter((r) => r.status === 'rejected');
    setOutcome(`${ids.length - failed.length} of ${ids.length} queued for retry.`);
    if (failed[0]?.status === 'rejected') setError(failed[0].reason);
    setSelected(new Set());
    runs.reload();
  };
  const failedIds = (runs.data?.action_runs ?? []).filter((r) => r.status === 'failed').map((r) => r.id);
  return (
    <Page
      title="Action runs"
      actions={
        <>
          <WriteButton canWrite={session.canWrite} busy={selected.size === 0} onClick={() => void retry([...selected])}>
            Retry selected ({selected.size})
          </WriteButton>
          <WriteButton canWrite={session.canWrite} busy={failedIds.length === 0} onClick={() => void retry(failedIds)}>
            Retry all failed ({failedIds.length})
          </WriteButton>
        </>
      }
    >
      <div class="toolbar">
        <label>
          Status{' '}
          <select value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            {statuses.map((s) => (
              <option key={s} value={s}>
                {s === '' ? 'any' : s === 'failed' ? 'failed (dead letters)' : s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Automation <input type="search" value={automation} onChange={(e) => setAutomation(e.currentTarget.value)} placeholder="name" />
        </label>
      </div>
      {outcome && (
        <p class="notice" role="status">
          {outcome}
        </p>
      )}
      <ErrorBox error={error ?? runs.error} />
      {runs.data && (
        <ActionRunList
          runs={runs.data.action_runs}
          selected={selected}
          onSelect={(id, on) => {
            const next = new Set(selected);
            if (on) next.add(id);
            else next.delete(id);
            setSelected(next);
          }}
        />
      )}
    </Page>
  );
}
