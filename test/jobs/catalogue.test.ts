import { expect } from 'chai';
import { allQueues, publishQueues, sendQueues } from '../../queues/index.js';
import { allProcessors } from '../../processors/index.js';
import { CatalogueError, checkCatalogue } from '../../src/jobs/catalogue.js';

describe('job catalogue', () => {
  it('pairs every queue with exactly one processor', () => {
    expect(() => checkCatalogue(allQueues, allProcessors)).to.not.throw();
    expect(allQueues.map((queue) => queue.name)).to.include.members(['campaign-tick', 'reconcile', 'send-email', 'send-linkedin', 'send-x', 'send-instagram']);
  });

  it('refuses a queue with no processor, naming it', () => {
    const withoutEmail = allProcessors.filter((processor) => processor.queue.name !== 'send-email');
    expect(() => checkCatalogue(allQueues, withoutEmail)).to.throw(CatalogueError, /queue "send-email" has no processor/);
  });

  it('refuses a queue with two processors, naming it', () => {
    const doubled = [...allProcessors, allProcessors[0]!];
    expect(() => checkCatalogue(allQueues, doubled)).to.throw(CatalogueError, /has 2 processors/);
  });

  it('keeps completed jobs bounded and failed jobs for the dead-letter view: every send and publish job that failed stays', () => {
    for (const queue of allQueues) {
      expect(queue.defaultJobOptions.removeOnComplete, queue.name).to.not.equal(false);
      expect(queue.defaultJobOptions.removeOnComplete, queue.name).to.not.equal(undefined);
      expect(queue.name).to.not.include(':');
      // Failed jobs are kept, all of them or a bounded number, never dropped at once.
      const keptFailed = queue.defaultJobOptions.removeOnFail;
      expect(keptFailed === false || (typeof keptFailed === 'object' && (keptFailed.count ?? 0) > 0), `${queue.name} keeps failed jobs`).to.equal(true);
    }
    // The dead-letter view that Bull Board retries from: every failed send and publish job stays.
    for (const queue of [...Object.values(sendQueues), ...Object.values(publishQueues)]) {
      expect(queue.defaultJobOptions.removeOnFail, queue.name).to.equal(false);
    }
  });
});
