import { expect } from 'chai';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/log/logger.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, stream };
}

describe('logger', () => {
  const secrets = {
    DATABASE_URL: 'postgres://app:Db-Secret-Pass1@127.0.0.1:5432/app',
    SMTP_URL: 'smtp://mailer:Smtp-Secret-Pass2@127.0.0.1:2525',
    X_BEARER_TOKEN: 'x-bearer-SECRET-3',
    LLM_API_KEY: 'sk-llm-SECRET-4',
    WEBHOOK_SECRET: 'whsec-SECRET-5',
    SESSION_SECRET: 'session-secret-SECRET-6-long-enough-for-config',
    LOG_LEVEL: 'info',
  } as const;

  it('never writes a configured secret, whether in fields, messages, errors or stacks', () => {
    const { lines, stream } = capture();
    const log = createLogger(loadConfig(secrets), stream);
    log.info({ url: secrets.DATABASE_URL }, `connecting to ${secrets.SMTP_URL}`);
    log.error({ err: new Error(`auth failed with token ${secrets.X_BEARER_TOKEN} and key ${secrets.LLM_API_KEY}`) }, 'call failed');
    log.warn({ headers: { authorization: `Bearer ${secrets.X_BEARER_TOKEN}` }, password: 'plain-pw', apiKey: 'k' }, 'request');
    log.info({ nested: { token: 'tok', secret: secrets.WEBHOOK_SECRET } }, JSON.stringify({ s: secrets.SESSION_SECRET }));
    const output = lines.join('');
    expect(lines).to.have.length(4);
    for (const value of ['Db-Secret-Pass1', 'Smtp-Secret-Pass2', 'x-bearer-SECRET-3', 'sk-llm-SECRET-4', 'whsec-SECRET-5', 'session-secret-SECRET-6', 'plain-pw']) {
      expect(output, value).to.not.include(value);
    }
    expect(output).to.include('[REDACTED]');
    expect(output).to.include('call failed');
  });
});
