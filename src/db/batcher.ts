/**
 * Collects single calls made in the same turn of the event loop (for example by the
 * concurrent jobs of one worker) and runs them as one batch: one query for many rows instead
 * of a round trip each. Each caller gets its own result, or the batch's error.
 */
export class Batcher<Input, Output> {
  private pending: Array<{ input: Input; resolve: (output: Output) => void; reject: (error: unknown) => void }> = [];
  private scheduled = false;

  /**
   * @param runBatch receives the inputs in call order and returns one output per input, in order.
   * @param maxBatch flush at once when this many calls are waiting. @defaultValue 500
   * @param lingerMs how long the first call of a batch waits for others; 0 waits only for the
   *   current turn of the event loop. @defaultValue 0
   */
  constructor(
    private readonly runBatch: (inputs: Input[]) => Promise<Output[]>,
    private readonly maxBatch = 500,
    private readonly lingerMs = 0,
  ) {}

  run(input: Input): Promise<Output> {
    return new Promise<Output>((resolve, reject) => {
      this.pending.push({ input, resolve, reject });
      if (this.pending.length >= this.maxBatch) {
        this.flush();
      } else if (!this.scheduled) {
        this.scheduled = true;
        if (this.lingerMs > 0) setTimeout(() => this.flush(), this.lingerMs);
        else setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    this.runBatch(batch.map((entry) => entry.input)).then(
      (outputs) => {
        if (outputs.length !== batch.length) {
          const error = new Error(`batch returned ${outputs.length} results for ${batch.length} inputs`);
          for (const entry of batch) entry.reject(error);
          return;
        }
        batch.forEach((entry, index) => entry.resolve(outputs[index] as Output));
      },
      (error: unknown) => {
        for (const entry of batch) entry.reject(error);
      },
    );
  }
}
