import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { Config } from '../config/config.js';

export const INSTALLATION_SECRETS = 'installation_secrets';

/**
 * The installation's own secret of this name, created on first use: a random 256-bit key is
 * inserted unless the row exists (`ON CONFLICT DO NOTHING`), then the stored one is read back.
 * Processes that race on the first use all read the winner's key, and it survives restarts.
 */
export async function installationSecret(db: Knex, name: string): Promise<string> {
  await db(INSTALLATION_SECRETS).insert({ name, secret: randomBytes(32).toString('base64url') }).onConflict('name').ignore();
  const row = (await db(INSTALLATION_SECRETS).where({ name }).first('secret')) as { secret: string } | undefined;
  if (row === undefined) throw new Error(`installation secret "${name}" could not be stored`);
  return row.secret;
}

/**
 * The key that signs unsubscribe tokens and salts Message-IDs: UNSUBSCRIBE_SECRET, else
 * SESSION_SECRET, else the installation's stored `unsubscribe` secret. Links already sent keep
 * working when this changes (a token is checked against the SHA-256 stored with its message,
 * not re-derived), so setting one of the variables later breaks nothing.
 */
export function unsubscribeSecret(config: Pick<Config, 'UNSUBSCRIBE_SECRET' | 'SESSION_SECRET'>, db: Knex): Promise<string> {
  const configured = config.UNSUBSCRIBE_SECRET ?? config.SESSION_SECRET;
  return configured === undefined ? installationSecret(db, 'unsubscribe') : Promise.resolve(configured);
}
