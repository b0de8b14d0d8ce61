import { useState } from 'preact/hooks';
import { api, ApiError } from '../api.ts';
import { useSession } from '../session.ts';
import { ErrorBox, Page, Time, useLoad, WriteButton } from '../ui.tsx';

/* API keys (admin): create with scopes (the secret is shown once), list, revoke. */

interface Key {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly created_at: string;
  readonly last_used_at: string | null;
  readonly revoked_at: string | null;
}

const scopes = ['read', 'events:write', 'admin'] as const;

export function KeysPage() {
  const session = useSession();
  const keys = useLoad(() => api.get<{ keys: Key[] }>('/api/keys'), []);
  const [name, setName] = useState('');
  const [chosen, setChosen] = useState<ReadonlySet<string>>(new Set(['read']));
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const create = async () => {
    setError(null);
    try {
      const created = await api.post<{ name: string; secret: string }>('/api/keys', { name, scopes: [...chosen] });
      setSecret({ name: created.name, secret: created.secret });
      setName('');
      keys.reload();
    } catch (reason) {
      setError(reason);
    }
  };
  const revoke = async (key: Key) => {
    if (!confirm(`Revoke ${key.name}? Clients using it are refused from then on.`)) return;
    try {
      await api.delete(`/api/keys/${encodeURIComponent(key.id)}`);
      keys.reload();
    } catch (reason) {
      setError(reason);
    }
  };
  return (
    <Page title="API keys">
      {keys.error instanceof ApiError && (keys.error.status === 403 || keys.error.status === 404) ? (
        <p class="notice">{keys.error.status === 403 ? 'Managing API keys needs an admin API key.' : 'This server has no key management routes (GET /api/keys).'}</p>
      ) : (
        <ErrorBox error={keys.error} />
      )}
      {secret && (
        <div class="notice" role="status">
          <p>
            The secret of <strong>{secret.name}</strong>, shown only now:
          </p>
          <p>
            <code class="secret" data-testid="new-key-secret">
              {secret.secret}
            </code>{' '}
            <button type="button" onClick={() => void navigator.clipboard.writeText(secret.secret)}>
              Copy
            </button>
          </p>
        </div>
      )}
      {keys.data && (
        <table>
          <caption class="visually-hidden">API keys</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Scopes</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.data.keys.map((k) => (
              <tr key={k.id} class={k.revoked_at ? 'revoked' : ''}>
                <td>{k.name}</td>
                <td>{k.scopes.join(', ')}</td>
                <td>
                  <Time iso={k.created_at} />
                </td>
                <td>
                  <Time iso={k.last_used_at} />
                </td>
                <td>
                  {k.revoked_at ? (
                    <span class="muted">
                      revoked <Time iso={k.revoked_at} />
                    </span>
                  ) : (
                    <WriteButton canWrite={session.canWrite} kind="danger" onClick={() => void revoke(k)} label={`revoke ${k.name}`}>
                      Revoke
                    </WriteButton>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <section class="card" aria-labelledby="key-form-title">
        <h2 id="key-form-title">Create a key</h2>
        <div class="toolbar">
          <label>
            Name <input value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="airflow-prod" />
          </label>
          <fieldset>
            <legend>Scopes</legend>
            {scopes.map((s) => (
              <label key={s}>
                <input
                  type="checkbox"
                  checked={chosen.has(s)}
                  onChange={(e) => {
                    const next = new Set(chosen);
                    if (e.currentTarget.checked) next.add(s);
                    else next.delete(s);
                    setChosen(next);
                  }}
                />{' '}
                {s}
              </label>
            ))}
          </fieldset>
          <WriteButton canWrite={session.canWrite} kind="primary" busy={name === '' || chosen.size === 0} onClick={() => void create()}>
            Create key
          </WriteButton>
        </div>
        <ErrorBox error={error} />
      </section>
    </Page>
  );
}
