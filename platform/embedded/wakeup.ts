/**
 * A wait that a wake-up (an append, an enqueue, a close) can cut short. A wake-up while nobody
 * waits is kept: the next wait returns at once.
 */
export class Wakeup {
  #pending: (() => void) | undefined;
  #signalled = false;

  wake(): void {
    this.#signalled = true;
    this.#pending?.();
  }

  /** Whether a wake-up came since the last wait (or clear). */
  get signalled(): boolean {
    return this.#signalled;
  }

  /** Forgets a wake-up that came before: the caller is about to look anyway. */
  clear(): void {
    this.#signalled = false;
  }

  async wait(timeoutMs: number): Promise<void> {
    if (this.#signalled) {
      this.#signalled = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#pending = undefined;
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#pending = done;
    });
    this.#signalled = false;
  }
}
