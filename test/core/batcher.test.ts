import { expect } from 'chai';
import { Batcher } from '../../src/core/batcher.js';

/** A batch runner whose batches finish only when the test says so. */
function controlledRunner() {
  const batches: Array<{ inputs: number[]; finish: (error?: Error) => void }> = [];
  const run = (inputs: number[]) =>
    new Promise<number[]>((resolve, reject) => {
      batches.push({ inputs, finish: (error) => (error === undefined ? resolve(inputs.map((input) => input * 10)) : reject(error)) });
    });
  return { batches, run };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('Batcher', () => {
  it('runs calls of one turn as one batch, each caller getting its own result', async () => {
    const runner = controlledRunner();
    const batcher = new Batcher(runner.run);
    const results = Promise.all([1, 2, 3].map((input) => batcher.run(input)));
    await turn();
    expect(runner.batches.map((batch) => batch.inputs)).to.deep.equal([[1, 2, 3]]);
    runner.batches[0]?.finish();
    expect(await results).to.deep.equal([10, 20, 30]);
  });

  it('keeps at most maxInFlight batches running; calls made meanwhile go together in the next', async () => {
    const runner = controlledRunner();
    const batcher = new Batcher(runner.run, 500, 2);
    const first = batcher.run(1);
    await turn();
    const second = batcher.run(2);
    await turn();
    const waiting = [3, 4, 5].map((input) => batcher.run(input));
    await turn();
    expect(runner.batches.map((batch) => batch.inputs), 'two running, three waiting').to.deep.equal([[1], [2]]);
    runner.batches[0]?.finish();
    expect(await first).to.equal(10);
    await turn();
    expect(runner.batches.map((batch) => batch.inputs)).to.deep.equal([[1], [2], [3, 4, 5]]);
    runner.batches[1]?.finish();
    runner.batches[2]?.finish();
    expect(await Promise.all([second, ...waiting])).to.deep.equal([20, 30, 40, 50]);
  });

  it('splits at maxBatch and rejects only the callers of a failed batch', async () => {
    const runner = controlledRunner();
    const batcher = new Batcher(runner.run, 2, 2);
    const calls = [1, 2, 3].map((input) => batcher.run(input).then(String, (error: Error) => error.message));
    await turn();
    expect(runner.batches.map((batch) => batch.inputs)).to.deep.equal([[1, 2], [3]]);
    runner.batches[0]?.finish(new Error('database away'));
    runner.batches[1]?.finish();
    expect(await Promise.all(calls)).to.deep.equal(['database away', 'database away', '30']);
  });
});
