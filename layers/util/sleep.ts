// Abortable sleep: resolves after ms, or early (without throwing) when the signal aborts.
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** A sleep that another part of the program can cut short (e.g. a consumer woken by a tick). */
export class Waker {
  #wake: (() => void) | null = null;
  #pending = false;

  /** Sleeps up to ms; returns early when wake() is called (or was called since the last wait). */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.#pending) {
      this.#pending = false;
      return Promise.resolve();
    }
    const inner = new AbortController();
    this.#wake = () => inner.abort();
    const onAbort = () => inner.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    return sleep(ms, inner.signal).finally(() => {
      this.#wake = null;
      signal?.removeEventListener('abort', onAbort);
    });
  }

  wake(): void {
    if (this.#wake) this.#wake();
    else this.#pending = true;
  }
}
