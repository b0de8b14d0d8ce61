import { startActionWorkers } from '../../actions/action-worker.ts';
import { startOutboxRelay, type OutboxRelay } from '../../actions/outbox-relay.ts';
import { startRunReconciler } from '../../actions/run-reconciler.ts';
import { handOffSweepAfterMs, type RoleContext, type Stoppable } from './roles.ts';
import { createAutomationRepository } from '../../triggers/automation-repository.ts';

/**
 * The outbox relay into the action queue and the workers that run the actions. With the
 * triggers role in the same process, the relay takes rows handed over as they commit and only
 * sweeps for the rest.
 */
export async function startActionsRole({ config, infrastructure, logger, metrics }: RoleContext, withTriggers: boolean): Promise<{ relay: OutboxRelay; parts: Stoppable[] }> {
  const { db, log, queue } = infrastructure;
  const actionsLogger = logger.child({ component: 'actions' });
  if (!config.VIGIL_SECRET_KEY) actionsLogger.warn('VIGIL_SECRET_KEY is not set: actions that use a connection will fail until it is');
  const relay = await startOutboxRelay({ db, queue, logger: actionsLogger, ...(withTriggers ? { sweepAfterMs: handOffSweepAfterMs } : {}) });
  const workers = await startActionWorkers({
    db,
    queue,
    emit: (events) => log.append(events),
    automations: createAutomationRepository(db),
    logger: actionsLogger,
    concurrency: config.VIGIL_ACTION_CONCURRENCY,
    ...(config.VIGIL_SECRET_KEY ? { secretKey: config.VIGIL_SECRET_KEY } : {}),
    egress: { allowlist: config.VIGIL_EGRESS_ALLOWLIST },
    metrics: metrics.registry,
  });
  // Records a database outage left behind (queued/running for jobs the queue finished) are set right.
  const reconciler = startRunReconciler({ db, queue, logger: actionsLogger });
  return { relay, parts: [relay, workers, reconciler] };
}

