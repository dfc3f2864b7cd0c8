import type { Command } from 'commander';
import { CliError, print, readPassword, withDataActions, withDb } from './cli-support.js';
import { ROLES } from '../operators/roles.js';

function when(date: Date | null, otherwise: string): string {
  return date === null ? otherwise : date.toISOString();
}

/**
 * `drumbeat operator …` (add with a role, list, disable, enable) and `drumbeat token …`
 * (create with an expiry, list, revoke). Run on the server with database access, these are
 * the way to the first admin and the way back in for a locked-out one.
 */
export function registerAccessCommands(program: Command): void {
  const operator = program.command('operator').description('admin operator accounts and their roles');
  operator
    .command('add <email>')
    .description('add an operator (password from --password or standard input)')
    .option('--password <password>', 'the password (at least 12 characters)')
    .option('--role <role>', `${ROLES.join(', ')} (default: admin for the first operator ever, operator after that)`)
    .action(async (email: string, options: { password?: string; role?: string }) => {
      const password = await readPassword(options.password);
      await withDataActions(async (actions) => {
        const added = await actions.addOperator(email, password, options.role);
        print(`operator ${added.email} added as ${added.role}`, false);
      });
    });
  operator
    .command('list')
    .description('list operators: email, role, created, last sign-in, state')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      const { listOperators } = await import('../operators/operator-service.js');
      await withDb(async (db) => {
        const operators = await listOperators(db);
        if (options.json === true) {
          print(operators, true);
          return;
        }
        print('id\temail\trole\tcreated\tlast sign-in\tstate', false);
        for (const row of operators) {
          print([row.id, row.email, row.role, when(row.createdAt, '-'), when(row.lastLoginAt, 'never'), row.disabledAt === null ? 'enabled' : `disabled ${row.disabledAt.toISOString()}`].join('\t'), false);
        }
      });
    });
  operator
    .command('disable <email>')
    .description('disable an operator: ends their sessions now and refuses their API tokens')
    .action(async (email: string) => {
      await withDataActions(async (actions) => {
        const { operator: disabled, changed } = await actions.setOperatorEnabled(email, false);
        print(changed ? `operator ${disabled.email} disabled; their sessions ended and their tokens are refused` : `operator ${disabled.email} was already disabled`, false);
      });
    });
  operator
    .command('enable <email>')
    .description('enable a disabled operator again (their unrevoked, unexpired tokens work again)')
    .action(async (email: string) => {
      await withDataActions(async (actions) => {
        const { operator: enabled, changed } = await actions.setOperatorEnabled(email, true);
        print(changed ? `operator ${enabled.email} enabled` : `operator ${enabled.email} was not disabled`, false);
      });
    });

  const token = program.command('token').description('API bearer tokens');
  token
    .command('create <name>')
    .description('create an API token; it is printed once and stored only as a hash')
    .option('--operator <email>', 'the operator the token belongs to (it acts with their role; without one it acts as operator)')
    .option('--expires <lifetime>', 'how long it is accepted: 90d, 12h, 1w … or never', '90d')
    .action(async (name: string, options: { operator?: string; expires: string }) => {
      const { tokenLifetimeSchema } = await import('../operators/api-token-service.js');
      const lifetime = tokenLifetimeSchema.safeParse(options.expires);
      if (!lifetime.success) throw new CliError(`--expires: ${lifetime.error.issues[0]?.message ?? 'invalid'}`);
      await withDataActions(async (actions) => {
        const created = await actions.createToken(name, options.operator, lifetime.data);
        // The token alone on stdout, so `TOKEN=$(drumbeat token create ci)` captures it; the rest is for the person.
        process.stderr.write(
          `token ${created.id} "${created.name}" acts as ${created.role}, ${created.expiresAt === null ? 'never expires' : `expires ${created.expiresAt.toISOString()}`}; it is shown only now\n`,
        );
        print(created.token, false);
      });
    });
  token
    .command('list')
    .description('list API tokens: id, name, owner, role, created, last used, expires, status (never the token)')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      const { listApiTokens } = await import('../operators/api-token-service.js');
      await withDb(async (db) => {
        const tokens = await listApiTokens(db);
        if (options.json === true) {
          print(tokens, true);
          return;
        }
        print('id\tname\towner\trole\tcreated\tlast used\texpires\tstatus', false);
        for (const row of tokens) {
          print(
            [row.id, row.name, row.operatorEmail ?? '(installation)', row.role, when(row.createdAt, '-'), when(row.lastUsedAt, 'never'), when(row.expiresAt, 'never'), row.status].join('\t'),
            false,
          );
        }
      });
    });
  token
    .command('revoke <idOrName>')
    .description('revoke a token by id, or by name when one unrevoked token has it')
    .action(async (reference: string) => {
      const { z } = await import('zod');
      await withDataActions(async (actions) => {
        const { token: revoked, changed } = await actions.revokeToken(z.string().trim().min(1).parse(reference));
        print(changed ? `token ${revoked.id} "${revoked.name}" revoked` : `token ${revoked.id} "${revoked.name}" was already revoked`, false);
      });
    });
}
