/** At most `size` holders at a time; the others wait in arrival order. */
export class Semaphore {
  private held = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly size: number) {}

  /** Runs `work` once a place is free, and frees it when `work` settles. */
  async use<T>(work: () => Promise<T>): Promise<T> {
    if (this.held < this.size) this.held += 1;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      // The place passes straight to the next waiter, so `held` stays the same.
      const next = this.waiting.shift();
      if (next === undefined) this.held -= 1;
      else next();
    }
  }
}
