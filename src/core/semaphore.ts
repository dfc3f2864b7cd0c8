/** At most `size` holders at a time; the others wait in arrival order. */
export class Semaphore {
  private held = 0;
  private readonly waiting: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];

  constructor(private readonly size: number) {}

  /** Runs `work` once a place is free, and frees it when `work` settles. */
  async use<T>(work: () => Promise<T>): Promise<T> {
    if (this.held < this.size) this.held += 1;
    else await new Promise<void>((resolve, reject) => this.waiting.push({ resolve, reject }));
    try {
      return await work();
    } finally {
      // The place passes straight to the next waiter, so `held` stays the same.
      const next = this.waiting.shift();
      if (next === undefined) this.held -= 1;
      else next.resolve();
    }
  }

  /** Turns every current waiter away with `error` (their work never runs); holders keep their places. */
  turnAway(error: Error): void {
    for (const waiter of this.waiting.splice(0)) waiter.reject(error);
  }
}
