import type { HttpTransport } from './http-transport.ts';
import type { ConnectionTestResult } from '../schemas/api-resources.ts';
import type { ConnectionConfig, RedactedConnection } from '../schemas/connection.ts';

const path = (name: string): string => `/api/connections/${encodeURIComponent(name)}`;

/** Connections (admin scope): the named credentials actions use. Secrets are write-only: a read shows `"set"` for each secret given. */
export class ConnectionsApi {
  readonly #http: HttpTransport;

  constructor(http: HttpTransport) {
    this.#http = http;
  }

  async list(): Promise<RedactedConnection[]> {
    return (await this.#http.request<{ connections: RedactedConnection[] }>('GET', '/api/connections', { retry: true })).body.connections;
  }

  /** One connection; a VigilApiError with status 404 when there is none. */
  async get(name: string): Promise<RedactedConnection> {
    return (await this.#http.request<RedactedConnection>('GET', path(name), { retry: true })).body;
  }

  /** Creates or replaces a connection; a secret given as `"set"` keeps the stored value. */
  async put(name: string, connection: ConnectionConfig | Record<string, unknown>): Promise<RedactedConnection> {
    return (await this.#http.request<RedactedConnection>('PUT', path(name), { body: connection, retry: true })).body;
  }

  async delete(name: string): Promise<void> {
    await this.#http.request('DELETE', path(name), { retry: true });
  }

  /** Makes one harmless call with the stored connection (Prefect health, Airflow version and login, Slack auth.test) and reports what it found. */
  async test(name: string): Promise<ConnectionTestResult> {
    return (await this.#http.request<ConnectionTestResult>('POST', `${path(name)}/test`, { retry: true })).body;
  }
}
