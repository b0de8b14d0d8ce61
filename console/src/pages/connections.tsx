import { useState } from 'preact/hooks';
import { api, ApiError } from '../api.ts';
import { useSession } from '../session.ts';
import { ErrorBox, Json, Page, Time, useLoad, WriteButton } from '../ui.tsx';

/*
 * Connections: the named credentials actions use. Secrets are write-only: the API shows a secret
 * field that is set as "set" (sending "set" back keeps the stored value). "Test" makes a harmless
 * call (Slack auth.test, Prefect / Airflow health) through POST /api/connections/{name}/test.
 */

interface Connection {
  readonly name: string;
  readonly kind: string;
  readonly config: Record<string, unknown>;
  readonly secrets_set?: readonly string[];
  readonly created_at: string;
  readonly updated_at: string;
}

const templates: Record<string, Record<string, unknown>> = {
  slack: { kind: 'slack', bot_token: 'xoxb-…' },
  webhook: { kind: 'webhook', signing_secret: '…' },
  prefect: { kind: 'prefect', api_url: 'http://prefect:4200/api' },
  airflow: { kind: 'airflow', base_url: 'http://airflow:8080', api_version: 2, username: 'vigil', password: '…' },
};

interface TestOutcome {
  readonly status: 'ok' | 'failed' | 'not_testable';
  readonly message: string;
}

function TestButton({ name }: { name: string }) {
  const [outcome, setOutcome] = useState<TestOutcome | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setOutcome(null);
    setBusy(true);
    try {
      setOutcome(await api.post<TestOutcome>(`/api/connections/${encodeURIComponent(name)}/test`));
    } catch (reason) {
      setOutcome({ status: 'failed', message: reason instanceof ApiError ? reason.message : String(reason) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" onClick={() => void run()} disabled={busy} aria-label={`test ${name}`}>
        {busy ? 'Testing…' : 'Test'}
      </button>
      {outcome && (
        <span role="status" class={`test-outcome small ${outcome.status === 'ok' ? 'ok' : outcome.status === 'failed' ? 'error-text' : 'muted'}`}>
          {' '}
          {outcome.status === 'ok' ? '✓' : outcome.status === 'failed' ? '✗' : '–'} {outcome.message}
        </span>
      )}
    </>
  );
}

export function ConnectionsPage() {
  const session = useSession();
  const list = useLoad(() => api.get<{ connections: Connection[] }>('/api/connections'), []);
  const [name, setName] = useState('');
  const [text, setText] = useState(JSON.stringify(templates['slack'], null, 2));
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const save = async () => {
    setError(null);
    setNotice(null);
    try {
      const saved = await api.put<Connection>(`/api/connections/${encodeURIComponent(name)}`, JSON.parse(text));
      // the form forgets the secrets it was given: it shows what the API answers ("set")
      setText(JSON.stringify(saved.config, null, 2));
      setNotice(`Saved connection ${name}.`);
      list.reload();
    } catch (reason) {
      setError(reason instanceof SyntaxError ? new Error(`not valid JSON: ${reason.message}`) : reason);
    }
  };
  const remove = async (connection: string) => {
    if (!confirm(`Delete connection ${connection}? Actions that use it will fail.`)) return;
    try {
      await api.delete(`/api/connections/${encodeURIComponent(connection)}`);
      list.reload();
    } catch (reason) {
      setError(reason);
    }
  };
  const edit = (connection: Connection) => {
    setName(connection.name);
    setText(JSON.stringify(connection.config, null, 2));
  };
  return (
    <Page title="Connections">
      {list.error instanceof ApiError && list.error.status === 403 ? (
        <p class="notice">Listing connections needs an admin API key.</p>
      ) : (
        <ErrorBox error={list.error} />
      )}
      {list.data && (
        <table>
          <caption class="visually-hidden">Connections</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Settings (a stored secret reads "set")</th>
              <th scope="col">Updated</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.data.connections.map((c) => (
              <tr key={c.name}>
                <td>
                  <strong>{c.name}</strong>
                </td>
                <td>{c.kind}</td>
                <td>
                  <Json value={c.config} />
                </td>
                <td>
                  <Time iso={c.updated_at} />
                </td>
                <td class="actions">
                  <TestButton name={c.name} />
                  <WriteButton canWrite={session.canWrite} onClick={() => edit(c)} label={`edit ${c.name}`}>
                    Edit
                  </WriteButton>
                  <WriteButton canWrite={session.canWrite} kind="danger" onClick={() => void remove(c.name)} label={`delete ${c.name}`}>
                    Delete
                  </WriteButton>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {list.data?.connections.length === 0 && <p class="empty-state">No connections yet.</p>}
      <section class="card" aria-labelledby="connection-form-title">
        <h2 id="connection-form-title">Add or replace a connection</h2>
        <div class="toolbar">
          <label>
            Name <input id="connection-name" value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="slack-data" />
          </label>
          <label>
            Kind{' '}
            <select onChange={(e) => setText(JSON.stringify(templates[e.currentTarget.value], null, 2))}>
              {Object.keys(templates).map((k) => (
                <option key={k}>{k}</option>
              ))}
            </select>
          </label>
        </div>
        <label for="connection-json">Connection (JSON; secret fields are encrypted at rest and never shown again: a stored secret reads "set", and "set" keeps it)</label>
        <textarea id="connection-json" rows={8} value={text} onInput={(e) => setText(e.currentTarget.value)} spellcheck={false} />
        {notice && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        <ErrorBox error={error} />
        <WriteButton canWrite={session.canWrite} kind="primary" busy={name === ''} onClick={() => void save()}>
          Save connection
        </WriteButton>
      </section>
    </Page>
  );
}
