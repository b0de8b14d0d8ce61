/**
 * A task that runs one at a time and reruns when asked while it runs: a reload on NOTIFY, a
 * relay pass, a timer cycle. However many requests come in during a run, one more run follows
 * it (it sees everything they asked about); none follows once `stopped()` says so.
 */
export interface RerunOnRequest {
  /** Starts a run, or asks the one in progress for another after it; resolves when the runs asked for so far are done (rejects with a run's failure). */
  request(): Promise<void>;
  /** Resolves when no run is in progress (never rejects): for close(). */
  settled(): Promise<void>;
}

export function rerunOnRequest(task: () => Promise<void>, stopped: () => boolean = () => false): RerunOnRequest {
  let running: Promise<void> | null = null;
  let again = false;
  return {
    request() {
      if (running) {
        again = true;
        return running;
      }
      running = (async () => {
        try {
          do {
            again = false;
            await task();
          } while (again && !stopped());
        } finally {
          running = null;
        }
      })();
      return running;
    },
    async settled() {
      await running?.catch(() => undefined);
    },
  };
}
