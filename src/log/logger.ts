import { pino, type Logger, type DestinationStream } from 'pino';
import { configSecrets, type Config } from '../config/config.js';

export type { Logger };

/** Field paths whose values are secrets wherever they appear in a log record. */
const redactedPaths = [
  'password',
  'pass',
  'token',
  'apiKey',
  'secret',
  'authorization',
  'cookie',
  '*.password',
  '*.pass',
  '*.token',
  '*.apiKey',
  '*.secret',
  '*.authorization',
  '*.cookie',
  '*.auth.pass',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'headers.authorization',
  'headers.cookie',
  'res.headers["set-cookie"]',
];

/**
 * Creates the process logger. Besides path-based redaction, every configured secret value
 * (tokens, keys, passwords inside URLs) is scrubbed from each serialized line, so a secret
 * that leaks into an error message or stack is still never written.
 */
export function createLogger(config: Config, destination?: DestinationStream): Logger {
  const secrets = configSecrets(config).flatMap((secret) => {
    const jsonEscaped = JSON.stringify(secret).slice(1, -1);
    const encoded = encodeURIComponent(secret);
    return [...new Set([secret, jsonEscaped, encoded])];
  });
  const options = {
    level: config.LOG_LEVEL,
    base: { pid: process.pid, app: 'drumbeat' },
    redact: { paths: redactedPaths, censor: '[REDACTED]' },
    hooks: {
      streamWrite: (line: string): string =>
        secrets.reduce((scrubbed, secret) => scrubbed.split(secret).join('[REDACTED]'), line),
    },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
