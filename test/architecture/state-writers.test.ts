import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { projectRoot } from '../support/engine.js';

/** The one module allowed to write each table that holds a state machine. */
const owners: Record<string, string> = {
  messages: 'src/messages/message-lifecycle.ts',
  campaign_leads: 'src/enrollments/enrollment-lifecycle.ts',
};

/** The owner's constant for each table's name. */
const tableConstants: Record<string, string> = { messages: 'MESSAGES', campaign_leads: 'CAMPAIGN_LEADS' };

/**
 * The writes to `table` in a source text, one line each: raw SQL (`UPDATE t`, `INSERT INTO t`,
 * `DELETE FROM t`) and Knex builders started on the table (`db('t')`, `db(T)`, `.from('t')`,
 * `.into('t')`, `.table('t')`, with an alias or not) whose chain, up to the end of its
 * statement, calls a write (`update`, `insert`, `upsert`, `del`, `delete`, `increment`, `decrement`, `truncate`).
 * Its blind spot: a builder kept in a variable and written through it in a later statement
 * (`const query = db('t')…; query.update(…)`); the owners do not write that way, nor should anyone.
 */
export function writesTo(table: string, source: string): string[] {
  const constant = tableConstants[table] ?? table;
  const found: string[] = [];
  const sql = new RegExp(`\\b(?:UPDATE|INSERT\\s+INTO|DELETE\\s+FROM)\\s+${table}\\b`, 'gi');
  for (const match of source.matchAll(sql)) found.push(lineOf(source, match.index));
  const tableArgument = [`['"\`]${table}(?:\\s+as\\s+\\w+)?['"\`]`, `\`\\$\\{${constant}\\}(?:\\s+as\\s+\\w+)?\``, constant].join('|');
  const builder = new RegExp(`\\b\\w+\\(\\s*(?:${tableArgument})\\s*\\)`, 'g');
  for (const match of source.matchAll(builder)) {
    const end = source.indexOf(';', match.index);
    const chain = source.slice(match.index, end === -1 ? undefined : end);
    if (/\.(?:update|insert|upsert|del|delete|increment|decrement|truncate)\s*\(/.test(chain)) found.push(lineOf(source, match.index));
  }
  return found.sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
}

function lineOf(source: string, index: number): string {
  return `line ${source.slice(0, index).split('\n').length}`;
}

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('state machine owners', () => {
  it('finds raw and Knex writes, with or without an alias or constant, and not reads', () => {
    const planted = [
      `await db.raw('UPDATE messages SET status = ? WHERE id = ?', ['SENT', 1]);`,
      "await trx('messages as m').where({ id }).update({ status: 'SENT' });",
      'await db(MESSAGES).insert(rows);',
      "await db('campaign_leads')\n  .where({ lead_id })\n  .del();",
      'await trx.raw(`INSERT INTO campaign_leads (campaign_id) VALUES (?)`, [1]);',
      'await db(`${CAMPAIGN_LEADS} as cl`).where({ id }).update({ state: x });',
    ].join('\n');
    expect(writesTo('messages', planted)).to.deep.equal(['line 1', 'line 2', 'line 3']);
    expect(writesTo('campaign_leads', planted)).to.deep.equal(['line 4', 'line 7', 'line 8']);
    const reads = "const rows = await db('messages').where({ lead_id }).select('id');\nawait db.raw('SELECT 1 FROM campaign_leads');";
    expect(writesTo('messages', reads)).to.deep.equal([]);
    expect(writesTo('campaign_leads', reads)).to.deep.equal([]);
  });

  it('only the lifecycle modules write messages and campaign_leads', () => {
    const files = ['src', 'queues', 'processors'].flatMap((directory) => sourceFiles(join(projectRoot, directory)));
    const outside: string[] = [];
    for (const file of files) {
      const path = relative(projectRoot, file);
      const source = readFileSync(file, 'utf8');
      for (const [table, owner] of Object.entries(owners)) {
        if (path === owner) continue;
        for (const where of writesTo(table, source)) outside.push(`${path} ${where}: writes ${table}`);
      }
    }
    expect(outside).to.deep.equal([]);
  });
});
