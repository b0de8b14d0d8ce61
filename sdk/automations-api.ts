import type { HttpTransport } from './http-transport.ts';
import { VigilApiError } from './errors.ts';
import type {
  Automation,
  AutomationInput,
  AutomationPatch,
  AutomationTestInput,
  AutomationTestResult,
  AutomationValidation,
  Firing,
  FiringFilter,
  FiringPage,
  Instant,
  PutAutomationResult,
  StoredAutomation,
} from './types.ts';

const path = (name: string): string => `/api/automations/${encodeURIComponent(name)}`;

function instant(value: Instant | undefined): string | undefined {
  return value instanceof Date ? value.toISOString() : value;
}

/** The automations of a Vigil installation: list, read, upsert by name, patch, delete, validate, dry-run, firings. */
export class AutomationsApi {
  readonly #http: HttpTransport;

  constructor(http: HttpTransport) {
    this.#http = http;
  }

  /** Every automation (optionally only enabled/paused ones, or those with a tag). */
  async list(filter: { enabled?: boolean; tag?: string } = {}): Promise<StoredAutomation[]> {
    const { body } = await this.#http.request<{ automations: StoredAutomation[] }>('GET', '/api/automations', { query: filter, retry: true });
    return body.automations;
  }

  /** One automation; a VigilApiError with status 404 when there is none. */
  async get(name: string): Promise<StoredAutomation> {
    return (await this.#http.request<StoredAutomation>('GET', path(name), { retry: true })).body;
  }

  /** Creates or replaces the automation named `automation.name` (idempotent: an identical document changes nothing). */
  async put(automation: AutomationInput): Promise<PutAutomationResult> {
    if (typeof automation.name !== 'string' || automation.name === '') {
      throw new VigilApiError(422, 'invalid_automation', 'the automation is invalid: name: is required (it is the key of the upsert)', { errors: [{ path: 'name', message: 'is required' }] });
    }
    return (await this.#http.request<PutAutomationResult>('PUT', path(automation.name), { body: automation, retry: true })).body;
  }

  /** Changes `enabled`, `description` or `tags` without resending the document. */
  async patch(name: string, patch: AutomationPatch): Promise<StoredAutomation> {
    return (await this.#http.request<StoredAutomation>('PATCH', path(name), { body: patch })).body;
  }

  /** Pauses (false) or resumes (true) an automation. */
  setEnabled(name: string, enabled: boolean): Promise<StoredAutomation> {
    return this.patch(name, { enabled });
  }

  /** Deletes an automation (its firings stay as history); a VigilApiError with status 404 when there is none. */
  async delete(name: string): Promise<void> {
    await this.#http.request('DELETE', path(name), { retry: true });
  }

  /** Validates a document on the server without saving it: the normalized document, or every problem by path (a 422 is an answer here, not an error). */
  async validate(document: unknown): Promise<AutomationValidation> {
    const { status, body } = await this.#http.request<unknown>('POST', '/api/automations/validate', { body: document, accept: [422], retry: true });
    if (status !== 422) return { valid: true, automation: (body as { automation: Automation }).automation };
    const { errors, message } = (body ?? {}) as { errors?: unknown; message?: unknown };
    const list = Array.isArray(errors)
      ? errors.map((item: { path?: unknown; message?: unknown }) => ({ path: typeof item.path === 'string' ? item.path : '', message: typeof item.message === 'string' ? item.message : JSON.stringify(item) }))
      : [];
    return { valid: false, message: typeof message === 'string' ? message : 'the automation is invalid', errors: list };
  }

  /**
   * Dry run: what the automation would have done for these events, or for the stored history of
   * a time range — the stored automation, or `input.automation` (an unsaved definition). Nothing
   * is written and no action runs.
   */
  async test(name: string, input: AutomationTestInput): Promise<AutomationTestResult> {
    const body = {
      ...('events' in input ? { events: input.events } : { since: instant(input.since), until: instant(input.until) }),
      ...(input.automation !== undefined ? { automation: input.automation } : {}),
    };
    return (await this.#http.request<AutomationTestResult>('POST', `${path(name)}/test`, { body, retry: true })).body;
  }

  /** One page of an automation's firings, newest first. */
  async firingsPage(name: string, filter: FiringFilter & { limit?: number; cursor?: string } = {}): Promise<FiringPage> {
    const query = { status: filter.status, since: instant(filter.since), until: instant(filter.until), limit: filter.limit, cursor: filter.cursor };
    return (await this.#http.request<FiringPage>('GET', `${path(name)}/firings`, { query, retry: true })).body;
  }

  /** Every firing of an automation matching the filter, newest first, fetched page by page as you iterate. */
  async *firings(name: string, filter: FiringFilter & { pageSize?: number } = {}): AsyncGenerator<Firing> {
    const { pageSize = 500, ...rest } = filter;
    let cursor: string | undefined;
    do {
      const page = await this.firingsPage(name, { ...rest, limit: pageSize, ...(cursor !== undefined ? { cursor } : {}) });
      yield* page.firings;
      cursor = page.next;
    } while (cursor !== undefined);
  }
}
