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
