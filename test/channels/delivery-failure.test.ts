import { expect } from 'chai';
import type SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { classifySmtpError, type SmtpPhase } from '../../src/channels/email/smtp-adapter.js';
import { verifySmtpLogin } from '../../src/channels/email/smtp-login.js';
import { classifyDeliveryFailure, missingAdapterFailure, type DeliveryFailure } from '../../src/channels/delivery-failure.js';
import { AmbiguousSendError, CircuitOpenError, PermanentSendError, RateLimitedError, SenderFaultError, TransientSendError } from '../../src/channels/adapter.js';
import { startSmtpServer } from './smtp-harness.js';

/** An error shaped as nodemailer's SMTPConnection builds it (`_formatError`): code, response, responseCode, command. */
function smtpError(fields: { command: string; response?: string; code?: string; message?: string }): SMTPConnection.SMTPError {
  const error: SMTPConnection.SMTPError = new Error(fields.message ?? 'Command failed');
  error.code = fields.code ?? 'EENVELOPE';
  error.command = fields.command;
  if (fields.response !== undefined) {
    error.response = fields.response;
    error.message += `: ${fields.response}`;
    const code = Number(/^\d+/.exec(fields.response)?.[0]);
    if (code > 0) error.responseCode = code;
  }
  return error;
}

function outcome(error: SMTPConnection.SMTPError, phase: SmtpPhase): DeliveryFailure {
  return classifyDeliveryFailure(classifySmtpError(error, phase));
}

describe('delivery failure classification', () => {
  describe('SMTP: stage × status code → whose problem', () => {
    const table: Array<[string, SMTPConnection.SMTPError, SmtpPhase, DeliveryFailure['kind'], string]> = [
      ['535 at AUTH', smtpError({ command: 'AUTH PLAIN', code: 'EAUTH', response: '535 5.7.8 Username and Password not accepted' }), 'AUTH', 'sender', 'SMTP credentials refused at AUTH: 535 5.7.8'],
      ['534 at AUTH', smtpError({ command: 'AUTH LOGIN', code: 'EAUTH', response: '534 5.7.9 Application-specific password required' }), 'AUTH', 'sender', 'at AUTH: 534'],
      ['530 at MAIL FROM', smtpError({ command: 'MAIL FROM', response: '530 5.7.0 Authentication required' }), 'envelope', 'sender', 'SMTP credentials refused at MAIL FROM: 530'],
      ['EAUTH without an answer (no credentials)', smtpError({ command: 'API', code: 'EAUTH', message: 'Missing credentials for "PLAIN"' }), 'AUTH', 'sender', 'at AUTH'],
      ['421 at the greeting', smtpError({ command: 'CONN', code: 'EPROTOCOL', response: '421 4.7.0 Too many connections, try later' }), 'connect', 'sender', 'SMTP relay refused at connect: 421 4.7.0'],
      ['421 at MAIL FROM', smtpError({ command: 'MAIL FROM', response: '421 4.7.0 Try again later, closing connection' }), 'envelope', 'sender', 'at MAIL FROM: 421'],
      ['454 at AUTH (temporary auth failure)', smtpError({ command: 'AUTH PLAIN', code: 'EAUTH', response: '454 4.7.0 Temporary authentication failure' }), 'AUTH', 'sender', 'at AUTH: 454'],
      ['454 at RCPT TO (relay access)', smtpError({ command: 'RCPT TO', response: '454 4.7.1 Relay access denied' }), 'envelope', 'sender', 'at RCPT TO: 454'],
      ['452 4.5.3 at RCPT TO (too many recipients)', smtpError({ command: 'RCPT TO', response: '452 4.5.3 Too many recipients' }), 'envelope', 'sender', 'at RCPT TO: 452 4.5.3'],
      ['451 4.7.0 at RCPT TO (throttled)', smtpError({ command: 'RCPT TO', response: '451 4.7.0 Rate limited, try again later' }), 'envelope', 'sender', 'at RCPT TO: 451 4.7.0'],
      ['5.7.1 at MAIL FROM (sender rejected)', smtpError({ command: 'MAIL FROM', response: '550 5.7.1 Sender address rejected: not owned by user' }), 'envelope', 'sender', 'SMTP relay refused at MAIL FROM: 550 5.7.1'],
      ['5xx without enhanced code at MAIL FROM', smtpError({ command: 'MAIL FROM', response: '553 Sender domain does not exist' }), 'envelope', 'sender', 'at MAIL FROM: 553'],
      ['5.7.1 at DATA (policy)', smtpError({ command: 'DATA', code: 'EMESSAGE', response: '550 5.7.1 Message rejected by policy' }), 'data-sent', 'sender', 'SMTP relay refused at DATA: 550 5.7.1'],
      ['5.7.26 at DATA (DMARC)', smtpError({ command: 'DATA', code: 'EMESSAGE', response: '550 5.7.26 Unauthenticated email from example.com is not accepted due to DMARC policy' }), 'data-sent', 'sender', 'at DATA: 550 5.7.26'],
      ['5.4.5 after DATA (daily quota)', smtpError({ command: 'DATA', code: 'EMESSAGE', response: '550 5.4.5 Daily user sending quota exceeded' }), 'data-sent', 'sender', 'SMTP relay refused at DATA: 550 5.4.5 Daily user sending quota exceeded'],
      ['5.1.1 at RCPT TO', smtpError({ command: 'RCPT TO', response: '550 5.1.1 The email account that you tried to reach does not exist' }), 'envelope', 'recipient', 'SMTP recipient refused at RCPT TO: 550 5.1.1'],
      ['5.1.10 at RCPT TO (null MX)', smtpError({ command: 'RCPT TO', response: '556 5.1.10 Recipient address has null MX' }), 'envelope', 'recipient', 'at RCPT TO: 556 5.1.10'],
      ['5.2.1 at RCPT TO (disabled mailbox)', smtpError({ command: 'RCPT TO', response: '550 5.2.1 The email account that you tried to reach is disabled' }), 'envelope', 'recipient', 'at RCPT TO: 550 5.2.1'],
      ['550 at RCPT TO without an enhanced code', smtpError({ command: 'RCPT TO', response: '550 No such user here' }), 'envelope', 'recipient', 'at RCPT TO: 550 No such user here'],
      ['4.2.1 at RCPT TO (mailbox busy)', smtpError({ command: 'RCPT TO', response: '450 4.2.1 Mailbox busy, try again later' }), 'envelope', 'transient', 'SMTP temporary failure at RCPT TO: 450 4.2.1'],
      ['4.3.0 after DATA', smtpError({ command: 'DATA', code: 'EMESSAGE', response: '451 4.3.0 Local error in processing' }), 'data-sent', 'transient', 'at DATA: 451 4.3.0'],
      ['5.6.0 after DATA (content refused)', smtpError({ command: 'DATA', code: 'EMESSAGE', response: '554 5.6.0 Message content rejected' }), 'data-sent', 'message', 'SMTP message refused at DATA: 554 5.6.0'],
      ['a size refusal before sending', smtpError({ command: 'MAIL FROM', code: 'EMESSAGE', message: 'Message size larger than allowed 1000' }), 'envelope', 'message', 'before sending at MAIL FROM'],
      ['ECONNREFUSED', Object.assign(smtpError({ command: 'CONN', code: 'ESOCKET', message: 'connect ECONNREFUSED 127.0.0.1:2525' }), { syscall: 'connect' }), 'connect', 'sender', 'SMTP relay unreachable at connect: connect ECONNREFUSED'],
      ['a DNS failure', smtpError({ command: 'CONN', code: 'EDNS', message: 'getaddrinfo ENOTFOUND smtp.nowhere.invalid' }), 'connect', 'sender', 'unreachable at connect: getaddrinfo ENOTFOUND'],
      ['ETLS', smtpError({ command: 'CONN', code: 'ETLS', message: 'Error initiating TLS - unable to verify the first certificate' }), 'connect', 'sender', 'SMTP relay unreachable at TLS'],
      ['ETLS at STARTTLS', smtpError({ command: 'STARTTLS', code: 'ETLS', message: 'Error upgrading connection with STARTTLS' }), 'connect', 'sender', 'at TLS'],
      ['a timeout before DATA', smtpError({ command: 'CONN', code: 'ETIMEDOUT', message: 'Timeout' }), 'envelope', 'transient', 'SMTP connection lost at MAIL FROM/RCPT TO: Timeout'],
      ['a timeout after the data was sent', smtpError({ command: 'CONN', code: 'ETIMEDOUT', message: 'Timeout' }), 'data-sent', 'ambiguous', 'after the message data was sent'],
    ];
    for (const [name, error, phase, kind, reason] of table) {
      it(`${name} → ${kind}`, () => {
        const failure = outcome(error, phase);
        expect(failure.kind).to.equal(kind);
        expect(failure.reason).to.include(reason);
      });
    }

    it('names the stage and quotes the answer of a real refused connection and a real 535', async () => {
      await expect(verifySmtpLogin('smtp://127.0.0.1:1', 1000)).to.be.rejectedWith(SenderFaultError, /^SMTP relay unreachable at connect: .*ECONNREFUSED/);
      const smtp = await startSmtpServer({ auth: { user: 'mailer', pass: 'right-pass' } });
      try {
        const wrong = smtp.url.replace('right-pass', 'wrong-pass');
        const refused = (await verifySmtpLogin(wrong, 1000).catch((error: unknown) => error)) as Error;
        expect(refused).to.be.instanceOf(SenderFaultError);
        expect(refused.message).to.equal('SMTP credentials refused at AUTH: 535 5.7.8 Authentication credentials invalid');
        expect(refused.message).to.not.include('wrong-pass');
        await verifySmtpLogin(smtp.url, 1000);
        expect(smtp.counts().data, 'a login check sends no mail').to.equal(0);
      } finally {
        await smtp.close();
      }
    });
  });

  describe('error classes → outcome', () => {
    it('maps each adapter error class to one outcome; anything unknown is transient', () => {
      const retryAt = new Date(Date.now() + 1000);
      expect(classifyDeliveryFailure(new SenderFaultError('x refused our credentials')).kind).to.equal('sender');
      expect(classifyDeliveryFailure(new PermanentSendError('no such user', true)).kind).to.equal('recipient');
      expect(classifyDeliveryFailure(new PermanentSendError('content refused')).kind).to.equal('message');
      expect(classifyDeliveryFailure(new TransientSendError('busy')).kind).to.equal('transient');
      expect(classifyDeliveryFailure(new AmbiguousSendError('lost')).kind).to.equal('ambiguous');
      expect(classifyDeliveryFailure(new RateLimitedError('slow down', 7000))).to.deep.equal({ kind: 'rate-limited', reason: 'slow down', retryAfterMs: 7000 });
      expect(classifyDeliveryFailure(new CircuitOpenError('open', retryAt))).to.deep.equal({ kind: 'breaker-open', reason: 'open', retryAt });
      expect(classifyDeliveryFailure(new Error('surprise')).kind).to.equal('transient');
    });

    it('a channel with no LIVE adapter is our configuration: a sender fault naming the setting', () => {
      expect(missingAdapterFailure('email')).to.deep.equal({ kind: 'sender', reason: 'no LIVE email adapter: SMTP_URL is not set' });
      expect(missingAdapterFailure('x').reason).to.include('X_BEARER_TOKEN is not set');
    });
  });
});
