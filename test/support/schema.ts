import { testDb } from '../setup/hooks.js';

/** The words a Postgres CHECK constraint of this run's database admits (`status IN ('A', 'B')`), read from its definition. */
export async function checkedValues(constraint: string): Promise<string[]> {
  const { rows } = await testDb().raw<{ rows: Array<{ definition: string }> }>(
    `SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint WHERE conname = ?`,
    [constraint],
  );
  return [...(rows[0]?.definition ?? '').matchAll(/'([A-Z_]+)'/g)].map((match) => match[1] as string);
}
