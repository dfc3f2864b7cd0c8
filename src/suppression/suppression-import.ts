import type { Knex } from 'knex';
import { suppress, SuppressionTargetError, type SuppressOptions } from './suppression-service.js';

/** What a suppression file import did: how many targets it added, and each refused line with why. */
export interface SuppressionImportOutcome {
  added: number;
  refused: string[];
}

const headerPattern = /^(email|e-mail|address|domain|value)$/i;

/**
 * Suppresses every address, @domain or identity hash in a file's lines (one per line, or the
 * first column of a CSV; a header line is skipped). A line that names nothing suppressible is
 * refused with its line number; the good lines still land.
 */
export async function importSuppressions(db: Knex, lines: AsyncIterable<string> | Iterable<string>, options: SuppressOptions): Promise<SuppressionImportOutcome> {
  let added = 0;
  const refused: string[] = [];
  let line = 0;
  for await (const text of lines) {
    line += 1;
    const target = (text.replace(/^\uFEFF/, '').split(/[,;\t]/)[0] ?? '').replace(/^"|"$/g, '').trim();
    if (target === '' || (line === 1 && headerPattern.test(target))) continue;
    try {
      await suppress(db, target, options);
      added += 1;
    } catch (error) {
      if (!(error instanceof SuppressionTargetError)) throw error;
      refused.push(`line ${line}: ${error.message}`);
    }
  }
  return { added, refused };
}
