import type { OutboxRelay } from '../../actions/outbox-relay.ts';
import { startDeadlineTimer, startLifecycleEventRelay, startTriggerEvaluator } from '../../triggers/index.ts';
import { logFirings } from '../../triggers/firing-log.ts';
import type { OutboxHandOff } from '../../triggers/trigger-state-store.ts';
import { handOffSweepAfterMs, type RoleContext, type Stoppable } from './roles.ts';

/**
 * The trigger evaluator consumer group, its deadline timer and the lifecycle-event relay. Both
 * hand their committed outbox rows to this process's relays: the lifecycle events to the
 * relay started here, the actions to `actionRelay` when the actions role runs here too.
 */
export async function startTriggersRole({ config, infrastructure, logger, metrics }: RoleContext, actionRelay: OutboxRelay | undefined): Promise<Stoppable[]> {
  const { db, log } = infrastructure;
  const triggersLogger = logger.child({ component: 'triggers' });
  const relay = await startLifecycleEventRelay({ db, log, logger: triggersLogger, sweepAfterMs: handOffSweepAfterMs });
  const onCommitted: OutboxHandOff = ({ actions, events }) => {
    logFirings(triggersLogger, events);
    relay.publish(events);
    actionRelay?.handOff(actions);
  };
  const allowedLatenessMs = config.VIGIL_ALLOWED_LATENESS_MS;
  const evaluator = await startTriggerEvaluator({ db, log, logger: triggersLogger, metrics: metrics.registry, allowedLatenessMs, onCommitted });
  const timer = await startDeadlineTimer({ db, logger: triggersLogger, metrics: metrics.registry, catalog: evaluator.catalog, allowedLatenessMs, onCommitted });
  return [relay, evaluator, timer];
}

