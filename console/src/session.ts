import { createContext } from 'preact';
import { useContext } from 'preact/hooks';

/** Who is signed in: the API key's name and scopes (GET /api/whoami). */
export interface Session {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly string[];
  /** Admin keys may change things; read keys see everything and change nothing. */
  readonly canWrite: boolean;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('no session');
  return session;
}
