/**
 * Collects single calls (for example from the concurrent jobs of one worker) and runs them as
 * batches: one query for many rows instead of a round trip each. A batch starts as soon as
 * fewer than `maxInFlight` batches are running; calls made while the limit is reached wait and
 * go together in the next one. So batches grow with the load by themselves, and a call made on
 * a quiet system waits for nothing but the current turn of the event loop.
 * Each caller gets its own result, or the batch's error.
 */
export class Batcher<Input, Output> {
  private pending: Array<{ input: Input; resolve: (output: Output) => void; reject: (error: unknown) => void }> = [];
  private scheduled = false;
  private inFlight = 0;

  /**
   * @param runBatch receives the inputs in call order and returns one output per input, in order.
   * @param maxBatch the most calls in one batch. @defaultValue 500
   * @param maxInFlight how many batches may run at once. @defaultValue 2
   */
  constructor(
    private readonly runBatch: (inputs: Input[]) => Promise<Output[]>,
    private readonly maxBatch = 500,
    private readonly maxInFlight = 2,
  ) {}

  run(input: Input): Promise<Output> {
    return new Promise<Output>((resolve, reject) => {
      this.pending.push({ input, resolve, reject });
      if (!this.scheduled && this.inFlight < this.maxInFlight) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    while (this.pending.length > 0 && this.inFlight < this.maxInFlight) {
      const batch = this.pending.splice(0, this.maxBatch);
      this.inFlight += 1;
      void this.runBatch(batch.map((entry) => entry.input))
        .then(
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
        )
        .finally(() => {
          this.inFlight -= 1;
          this.flush();
        });
    }
  }
}
