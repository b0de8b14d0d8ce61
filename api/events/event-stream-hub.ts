import type { Logger } from '../../platform/logger.ts';
import { compileGlobList } from '../../triggers/matching/event-name-glob.ts';
import type { EventFilter, EventHistory, StoredEvent } from '../../history/event-history.ts';

export interface StreamSubscriber {
  /** Delivers one event; returns false when the subscriber cannot keep up and must be dropped. */
  deliver(event: StoredEvent): boolean;
}

/** A filter as an in-memory predicate, the same rules as the history query. */
function eventPredicate(filter: EventFilter): (event: StoredEvent) => boolean {
  const names = filter.event ? compileGlobList([filter.event]) : undefined;
  const since = filter.since?.getTime();
  const until = filter.until?.getTime();
  const labels = Object.entries(filter.labels ?? {});
  return (event) => {
    const occurred = Date.parse(event.occurred);
    if (since !== undefined && occurred < since) return false;
    if (until !== undefined && occurred >= until) return false;
    if (names && !names.test(event.event)) return false;
    if (filter.resourceId !== undefined && event.resource.id !== filter.resourceId) return false;
    return labels.every(([key, value]) => event.resource[key] === value);
  };
}

/**
 * One poller per process over the event history, fanning new events out to every live-stream
 * subscriber whose filter they match. It polls only while someone listens.
 */
export function createEventStreamHub(history: EventHistory, logger: Logger, pollIntervalMs = 250) {
  const subscribers = new Map<StreamSubscriber, (event: StoredEvent) => boolean>();
  let position: bigint | undefined;
  let timer: NodeJS.Timeout | undefined;
  let polling = false;

  async function poll(): Promise<void> {
    if (polling) return;
    polling = true;
    try {
      if (position === undefined) return;
      for (;;) {
        const events = await history.after(position, 1_000);
        for (const event of events) {
          position = event.seq;
          for (const [subscriber, matches] of subscribers) {
            if (matches(event) && !subscriber.deliver(event)) subscribers.delete(subscriber);
          }
        }
        if (events.length < 1_000) break;
      }
    } catch (error) {
      logger.warn({ err: error }, 'event stream poll failed; retrying');
    } finally {
      polling = false;
    }
  }

  return {
    /** Starts delivering events persisted from now on; resolves once the starting point is fixed. */
    async subscribe(filter: EventFilter, subscriber: StreamSubscriber): Promise<() => void> {
      position ??= await history.latestSeq();
      subscribers.set(subscriber, eventPredicate(filter));
      timer ??= setInterval(() => void poll(), pollIntervalMs);
      return () => {
        subscribers.delete(subscriber);
        if (subscribers.size === 0 && timer) {
          clearInterval(timer);
          timer = undefined;
          position = undefined;
        }
      };
    },
    close(): void {
      subscribers.clear();
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

export type EventStreamHub = ReturnType<typeof createEventStreamHub>;
