import type { ConnectionsRepository } from '../../actions/connections.ts';
import type { ActionKind } from '../../schemas/action.ts';
import type { ApiWarning } from '../../schemas/api-resources.ts';
import type { Automation } from '../../schemas/automation.ts';
import type { ConnectionKind } from '../../schemas/connection.ts';

/*
 * Warnings for a saved automation whose actions name a connection that does not exist, or one
 * of a kind the action cannot use: saving still succeeds (the connection may be created
 * next), but those actions would fail, not retried, until it exists.
 */

/** The connection kinds each action kind that takes a connection can use. */
const usableKinds: Partial<Record<ActionKind, readonly ConnectionKind[]>> = {
  'send-notification': ['slack'],
  'call-webhook': ['webhook'],
  'run-deployment': ['prefect', 'airflow'],
  'pause-work-queue': ['prefect', 'airflow'],
  'resume-work-queue': ['prefect', 'airflow'],
  'pause-schedule': ['prefect', 'airflow'],
  'resume-schedule': ['prefect', 'airflow'],
};

export async function connectionWarnings(automation: Automation, connections: Pick<ConnectionsRepository, 'kinds'>): Promise<ApiWarning[]> {
  const uses = (['actions', 'actions_on_resolve'] as const).flatMap((list) =>
    automation[list].flatMap((action, index) => {
      const name = (action as { connection?: unknown }).connection;
      return typeof name === 'string' ? [{ path: `${list}[${index}].connection`, name, kind: action.kind }] : [];
    }),
  );
  if (uses.length === 0) return [];
  const existing = await connections.kinds([...new Set(uses.map((use) => use.name))]);
  const warnings: ApiWarning[] = [];
  for (const use of uses) {
    const kind = existing.get(use.name);
    const usable = usableKinds[use.kind] ?? [];
    if (kind === undefined) {
      warnings.push({ path: use.path, message: `no connection ${JSON.stringify(use.name)} exists: this ${use.kind} action fails until one is created (PUT /api/connections/${use.name})` });
    } else if (!usable.includes(kind)) {
      warnings.push({ path: use.path, message: `connection ${JSON.stringify(use.name)} is a ${kind} connection; a ${use.kind} action needs a ${usable.join(' or ')} connection` });
    }
  }
  return warnings;
}
