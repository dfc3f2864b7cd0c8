import { expect } from 'chai';
import { ConfigError, configSecrets, loadConfig, redactUrl } from '../../src/config/config.js';

describe('config', () => {
  it('has working local defaults for Redis and Postgres on loopback', () => {
    const config = loadConfig({});
    expect(config.REDIS_URL).to.equal('redis://127.0.0.1:6379');
    expect(config.DATABASE_URL).to.match(/^postgres:\/\/.*@127\.0\.0\.1:5432\//);
    expect(config.PORT).to.equal(3000);
    expect(config.SEND_BACKOFF).to.equal(5000);
  });

  it('lists every invalid variable at once, without echoing values', () => {
    const attempt = () =>
      loadConfig({ PORT: 'eighty', REDIS_URL: 'http://nope', SEND_BACKOFF: 'soon', QUEUE_PREFIX: 'a:b', SESSION_SECRET: 'short-secret-value' });
    expect(attempt).to.throw(ConfigError);
    try {
      attempt();
    } catch (error) {
      const problems = (error as ConfigError).problems;
      expect(problems.map((problem) => problem.split(':')[0])).to.have.members(['PORT', 'REDIS_URL', 'SEND_BACKOFF', 'QUEUE_PREFIX', 'SESSION_SECRET']);
      expect((error as Error).message).to.not.include('short-secret-value');
    }
  });

  it('requires a session secret in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).to.throw(ConfigError, /SESSION_SECRET/);
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ SMTP_URL: '', LLM_API_KEY: '' }).SMTP_URL).to.equal(undefined);
  });

  it('knows which values are secrets, including passwords inside URLs', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://app:db-pass-123@127.0.0.1:5432/x',
      SMTP_URL: 'smtps://mailer:smtp-pass-456@mail.example.com:465',
      X_BEARER_TOKEN: 'x-token-789',
    });
    expect(configSecrets(config)).to.include.members(['db-pass-123', 'smtp-pass-456', 'x-token-789']);
    expect(redactUrl(config.DATABASE_URL)).to.equal('postgres://app:***@127.0.0.1:5432/x');
  });
});
