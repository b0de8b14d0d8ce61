import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, keyStore, request, whenUnauthorized } from './api.ts';
import { ActionRunsPage } from './pages/action-runs.tsx';
import { AutomationPage } from './pages/automation.tsx';
import { ConnectionsPage } from './pages/connections.tsx';
import { EventPage, EventsPage } from './pages/events.tsx';
import { KeysPage } from './pages/keys.tsx';
import { NowPage, triggerStatusPath } from './pages/now.tsx';
import { prefetch } from './prefetch.ts';
import { SessionContext, type Session } from './session.ts';
import { describeError } from './ui.tsx';
import './styles.css';

/* The console shell: sign-in, navigation, theme, and a hash router (#/now, #/automations/x, …). */

interface WhoAmI {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly string[];
}

function toSession(who: WhoAmI): Session {
  return { ...who, canWrite: who.scopes.includes('admin') };
}

function useRoute(): string[] {
  const read = () => (location.hash.replace(/^#\/?/, '') || 'now').split('/').map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onChange = () => setRoute(read());
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

type Theme = 'light' | 'dark' | 'system';
function useTheme(): [Theme, (theme: Theme) => void] {
  const [theme, setTheme] = useState<Theme>(() => (localStorage.getItem('vigil.theme') as Theme | null) ?? 'system');
  useEffect(() => {
    if (theme === 'system') delete document.documentElement.dataset['theme'];
    else document.documentElement.dataset['theme'] = theme;
    localStorage.setItem('vigil.theme', theme);
  }, [theme]);
  return [theme, setTheme];
}

function SignIn({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const who = await request<WhoAmI>('GET', '/api/whoami', undefined, key.trim());
      keyStore.set(key.trim());
      onSignedIn(toSession(who));
    } catch (reason) {
      setError(reason instanceof ApiError && reason.status === 401 ? 'That API key is unknown or revoked.' : describeError(reason));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <form onSubmit={(event) => void submit(event)} aria-labelledby="signin-title">
        <h1 id="signin-title">
          <span class="logo" aria-hidden="true">◉</span> Vigil
        </h1>
        <p>Sign in with an API key. Keys with the <code>read</code> scope see everything; <code>admin</code> keys can change things.</p>
        <label for="api-key">API key</label>
        <input id="api-key" type="password" autoComplete="off" required value={key} onInput={(e) => setKey(e.currentTarget.value)} autoFocus />
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy || key.trim() === ''}>
          Sign in
        </button>
        <p class="muted small">The key is kept in this tab only (sessionStorage) and sent as a bearer token.</p>
      </form>
    </main>
  );
}

const nav: Array<[string, string]> = [
  ['now', 'Now'],
  ['automations', 'Automations'],
  ['events', 'Events'],
  ['action-runs', 'Action runs'],
  ['connections', 'Connections'],
  ['keys', 'API keys'],
];

function Routed({ route }: { route: string[] }) {
  const [section, id, detail] = route;
  switch (section) {
    case 'automations':
      return id !== undefined ? <AutomationPage key={id} name={id} /> : <NowPage key="automations" list />;
    case 'events':
      return id !== undefined ? <EventPage key={id} id={id} occurred={detail} /> : <EventsPage />;
    case 'action-runs':
      return <ActionRunsPage />;
    case 'connections':
      return <ConnectionsPage />;
    case 'keys':
      return <KeysPage />;
    default:
      return <NowPage key="now" />;
  }
}

function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [checking, setChecking] = useState(keyStore.get() !== null);
  const [theme, setTheme] = useTheme();
  const route = useRoute();
  useEffect(() => {
    whenUnauthorized(() => {
      keyStore.clear();
      setSession(null);
    });
    if (keyStore.get() === null) return;
    // The landing page's data in parallel with the sign-in check.
    if (location.hash === '' || location.hash.startsWith('#/now')) prefetch(triggerStatusPath);
    api.get<WhoAmI>('/api/whoami').then(
      (who) => {
        setSession(toSession(who));
        setChecking(false);
      },
      () => {
        keyStore.clear();
        setChecking(false);
      },
    );
  }, []);
  if (checking) return <p class="muted center">Signing in…</p>;
  if (!session) return <SignIn onSignedIn={setSession} />;
  const signOut = () => {
    keyStore.clear();
    setSession(null);
  };
  return (
    <SessionContext.Provider value={session}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href="#/now">
          <span class="logo" aria-hidden="true">◉</span> Vigil
        </a>
        <nav aria-label="Console">
          {nav.map(([path, label]) => (
            <a key={path} href={`#/${path}`} aria-current={route[0] === path ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <div class="who">
          <label class="theme">
            <span class="visually-hidden">Theme</span>
            <select value={theme} onChange={(e) => setTheme(e.currentTarget.value as Theme)}>
              <option value="system">System theme</option>
              <option value="light">Light</option>
              <option value="dark">Dark</option>
            </select>
          </label>
          <span class={`key-badge ${session.canWrite ? 'admin' : 'readonly'}`} title={`scopes: ${session.scopes.join(', ')}`}>
            {session.name} · {session.canWrite ? 'admin' : 'read-only'}
          </span>
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main">
        <Routed route={route} />
      </main>
    </SessionContext.Provider>
  );
}

render(<App />, document.getElementById('app')!);
