import { expect } from 'chai';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { AppContext } from '../../src/runtime/context.js';
import { sendTemplateTest } from '../../src/messages/preview.js';
import { resetDatabase } from '../setup/hooks.js';
import { engineContext } from '../support/engine.js';

describe('template test-send', () => {
  let server: SMTPServer;
  let port: number;
  const received: Array<{ to: string[]; data: string }> = [];
  let ctx: AppContext | undefined;

  before(async () => {
    server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, session, callback) {
        let data = '';
        stream.on('data', (chunk: Buffer) => (data += chunk.toString()));
        stream.on('end', () => {
          received.push({ to: session.envelope.rcptTo.map((rcpt) => rcpt.address), data });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.server.address() as AddressInfo).port;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  afterEach(async () => {
    await ctx?.close();
    ctx = undefined;
  });

  it('sends one rendered email to the operator address through the LIVE email adapter, subject marked [TEST]', async () => {
    await resetDatabase();
    ctx = engineContext({ env: { SMTP_URL: `smtp://127.0.0.1:${port}` } });
    expect(ctx.liveAdapters.email, 'the context has the SMTP adapter').to.not.equal(undefined);
    const { template } = await ctx.templates.add({ name: 'hello', channel: 'email', subject: 'Hi <%= it.lead.firstName %>', body: '<p>Hello <%= it.lead.company %></p>', format: 'html' }, 'test');
    const { result } = await sendTemplateTest(
      { db: ctx.db, adapter: ctx.liveAdapters.email, timeoutMs: 10_000, publicUrl: 'https://drumbeat.example' },
      { templateId: template.id, to: 'operator@example.com', fromEmail: 'team@example.com' },
    );
    expect(result.externalId).to.be.a('string');
    expect(received).to.have.length(1);
    expect(received[0]?.to).to.deep.equal(['operator@example.com']);
    expect(received[0]?.data).to.include('Subject: [TEST] Hi Test');
    expect(received[0]?.data).to.include('Hello Example Ltd');
  });
});
