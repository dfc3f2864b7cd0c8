import type { QueueDefinition } from './queue-definition.js';

/** The part of a processor the catalogue check needs. */
export interface CatalogueProcessor {
  readonly queue: QueueDefinition;
}

/** Raised when queues and processors do not pair up one to one. */
export class CatalogueError extends Error {
  constructor(readonly problems: string[]) {
    super(`The job catalogue is inconsistent:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'CatalogueError';
  }
}

/**
 * Checks that every queue has exactly one processor and every processor serves a known queue.
 * @throws CatalogueError naming each queue without a processor, with two, or unknown.
 */
export function checkCatalogue(queues: readonly QueueDefinition[], processors: readonly CatalogueProcessor[]): void {
  const problems: string[] = [];
  const known = new Set<string>();
  for (const queue of queues) {
    if (known.has(queue.name)) problems.push(`queue "${queue.name}" is declared twice`);
    known.add(queue.name);
    const count = processors.filter((processor) => processor.queue.name === queue.name).length;
    if (count === 0) problems.push(`queue "${queue.name}" has no processor (add processors/${queue.name}.ts)`);
    if (count > 1) problems.push(`queue "${queue.name}" has ${count} processors; it must have exactly one`);
  }
  for (const processor of processors) {
    if (!known.has(processor.queue.name)) {
      problems.push(`a processor serves queue "${processor.queue.name}", which is not in queues/index.ts`);
    }
  }
  if (problems.length > 0) throw new CatalogueError(problems);
}
