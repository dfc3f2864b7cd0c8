import type { Knex } from 'knex';

/**
 * Query options that make the driver prepare a hot statement once per connection under this
 * name, so Postgres parses and plans it once instead of on every batch. Only for SQL whose text
 * never changes (the batch sizes live in array parameters).
 */
export function preparedAs(name: string): { name: string } {
  return { name };
}

/**
 * An array parameter whose elements may be null (node-postgres sends them as NULL). Knex's
 * binding types list arrays of one non-null type only; this is the one place that bridges that.
 */
export function arrayBinding(values: ReadonlyArray<string | number | Date | null>): Knex.Value {
  return values as unknown as string[];
}

/**
 * The SQL text of a list of constant words (status names): `'NEW', 'ACTIVE'`, for an `IN (…)`
 * or a partial-index predicate written from the owning module's constants rather than retyped.
 * Only for constants: anything but capitals and underscores is refused.
 */
export function sqlWords(values: readonly string[]): string {
  for (const value of values) if (!/^[A-Z][A-Z_]*$/.test(value)) throw new Error(`not a constant word: ${JSON.stringify(value)}`);
  return values.map((value) => `'${value}'`).join(', ');
}
