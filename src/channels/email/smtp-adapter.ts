import { Readable } from 'node:stream';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { z } from 'zod';
import { escapeHtml, htmlToText, textToHtml, type BodyFormat } from '../../core/message-body.js';
import {
  AmbiguousSendError,
  PermanentSendError,
  SenderFaultError,
  TransientSendError,
  type ChannelAdapter,
  type OutboundMessage,
  type SendResult,
} from '../adapter.js';

export interface SmtpSettings {
  /** `smtp://user:pass@host:port` (STARTTLS when offered) or `smtps://…` (TLS from the start). */
  url: string;
  /** Connection, greeting and socket timeout in ms. */
  timeoutMs: number;
  /** The postal address printed in every footer (CAN-SPAM). */
  postalAddress?: string | undefined;
}

/** Refused before anything is sent: a header value that could smuggle in another header. */
export class HeaderInjectionError extends PermanentSendError {
  override name = 'HeaderInjectionError';
}

const emailAddress = z.email();

/** The account part of an SMTP URL, safe to log and to name a breaker with: user@host:port, no password. */
export function smtpAccount(url: string): string {
  const parsed = new URL(url);
  const port = parsed.port === '' ? (parsed.protocol === 'smtps:' ? '465' : '587') : parsed.port;
  return `${parsed.username === '' ? '' : `${decodeURIComponent(parsed.username)}@`}${parsed.hostname}:${port}`;
}

/** The connection options and credentials of an `smtp://` or `smtps://` URL. */
export function smtpConnectionOptions(
  smtpUrl: string,
  timeoutMs: number,
): { options: SMTPConnection.Options; auth: { user: string; pass: string } | undefined } {
  const url = new URL(smtpUrl);
  const secure = url.protocol === 'smtps:';
  return {
    options: {
      host: url.hostname,
      port: url.port === '' ? (secure ? 465 : 587) : Number(url.port),
      secure,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
    },
    auth: url.username === '' ? undefined : { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) },
  };
}

function refuseLineBreaks(fields: Record<string, string | null | undefined>): void {
  for (const [field, value] of Object.entries(fields)) {
    // CR, LF and NUL are what header injection is made of; no header value needs them.
    if (value != null && /[\r\n\0]/.test(value)) {
      throw new HeaderInjectionError(`refused before sending: ${field} contains a line break or NUL (header injection)`);
    }
  }
}

/**
 * The text and HTML parts of a campaign email, each made once from the stored body. A text body
 * is the text part as is, and becomes the HTML part here (escaped once); an HTML body is the
 * HTML part as is, and the text part is derived from it. Both end with the footer: the postal
 * address and the unsubscribe link (in the text part as plain text).
 */
export function emailParts(
  body: string,
  format: BodyFormat,
  unsubscribeUrl: string,
  postalAddress: string | undefined,
): { text: string; html: string } {
  const footerLines = [...(postalAddress === undefined ? [] : [postalAddress]), `Unsubscribe: ${unsubscribeUrl}`];
  const text = `${format === 'text' ? body : htmlToText(body)}\n\n--\n${footerLines.join('\n')}\n`;
  const postal = postalAddress === undefined ? '' : `${escapeHtml(postalAddress)}<br>`;
  const footer = `<hr><p style="font-size:12px;color:#666">${postal}<a href="${escapeHtml(unsubscribeUrl)}">Unsubscribe</a></p>`;
  const content = format === 'text' ? textToHtml(body) : body;
  // An HTML body written as a whole document keeps it: the footer goes inside its <body>.
  const bodyEnd = format === 'html' ? content.search(/<\/body\s*>(?![\s\S]*<\/body\s*>)/i) : -1;
  const html =
    bodyEnd === -1
      ? `<!doctype html><html><body>${content}\n${footer}</body></html>`
      : `${content.slice(0, bodyEnd)}\n${footer}\n${content.slice(bodyEnd)}`;
  return { text, html };
}

/** Builds the RFC 5322 message (with the RFC 8058 headers) of one campaign email. */
export async function composeEmail(message: OutboundMessage, postalAddress: string | undefined): Promise<Buffer> {
  const extras = message.email;
  if (extras === undefined) throw new PermanentSendError('a campaign email needs its Message-ID and unsubscribe link; none were given');
  refuseLineBreaks({
    'from name': message.fromName,
    'from address': message.fromEmail,
    'reply-to': message.replyTo,
    recipient: message.recipient,
    subject: message.subject,
    'message-id': extras.messageId,
    'unsubscribe url': extras.unsubscribeUrl,
    'unsubscribe mailto': extras.unsubscribeMailto,
    'in-reply-to': message.thread?.inReplyTo,
    references: message.thread?.references,
  });
  for (const [field, value] of [
    ['from address', message.fromEmail],
    ['recipient', message.recipient],
    ['reply-to', message.replyTo],
  ] as const) {
    if (value !== null && !emailAddress.safeParse(value).success) throw new PermanentSendError(`refused before sending: ${field} is not an email address`);
  }
  if (message.fromEmail === null) throw new PermanentSendError('refused before sending: the campaign has no From address');
  const { text, html } = emailParts(message.body, message.format, extras.unsubscribeUrl, postalAddress);
  const inReplyTo = message.thread?.inReplyTo ?? null;
  const references = message.thread?.references ?? null;
  const composer = new MailComposer({
    from: message.fromName === null ? message.fromEmail : { name: message.fromName, address: message.fromEmail },
    to: message.recipient,
    ...(message.replyTo === null ? {} : { replyTo: message.replyTo }),
    subject: message.subject ?? '',
    messageId: extras.messageId,
    ...(inReplyTo === null ? {} : { inReplyTo }),
    ...(references === null ? {} : { references }),
    text,
    html,
    headers: {
      'List-Unsubscribe': `<${extras.unsubscribeUrl}>, <${extras.unsubscribeMailto}>`,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    },
  });
  return composer.compile().build();
}

/**
 * How far one SMTP conversation got. Names the stage of an error that carries no command of its
 * own: nodemailer reports a lost connection or a timeout as `CONN` whatever it was doing.
 */
export type SmtpPhase = 'connect' | 'AUTH' | 'envelope' | 'data-sent';

/** The SMTP stage named in every reason. */
export type SmtpStage = 'connect' | 'TLS' | 'AUTH' | 'MAIL FROM' | 'RCPT TO' | 'MAIL FROM/RCPT TO' | 'DATA';

const phaseStage: Record<SmtpPhase, SmtpStage> = { connect: 'connect', AUTH: 'AUTH', envelope: 'MAIL FROM/RCPT TO', 'data-sent': 'DATA' };

/** The stage an SMTP error happened at: the command the server answered, else the conversation's phase. */
export function smtpStage(error: SMTPConnection.SMTPError, phase: SmtpPhase): SmtpStage {
  const command = error.command ?? '';
  if (command === 'MAIL FROM' || command === 'RCPT TO' || command === 'DATA') return command;
  if (command.startsWith('AUTH') || error.code === 'EAUTH') return 'AUTH';
  if (command === 'STARTTLS' || error.code === 'ETLS') return 'TLS';
  return phaseStage[phase];
}

/** The RFC 3463 enhanced status code (`5.1.1`) at the start of an SMTP answer, if it has one. */
function enhancedStatus(response: string | undefined): { subject: string; detail: string } | undefined {
  const match = /^\d{3}[ -][245]\.(\d{1,3})\.(\d{1,3})\b/.exec(response ?? '');
  return match === null ? undefined : { subject: match[1] ?? '', detail: match[2] ?? '' };
}

/**
 * Sorts an SMTP failure by whose problem it is, from the stage and the (enhanced) status code:
 * - the sender's, account's or relay's (SenderFaultError): anything at connect or TLS (refused,
 *   DNS, timeout, a 421 greeting), AUTH refusals (535, 534, 530, EAUTH), 421 and 454 anywhere,
 *   X.7.x anywhere (4.7.x throttling, 5.7.x policy: sender rejected, DMARC, relay denied),
 *   X.4.5 (quota, congestion), X.5.3 (too many recipients), any 5xx at MAIL FROM;
 * - the recipient's (PermanentSendError, hard bounce): a 5xx at RCPT TO with 5.1.x, 5.2.1 or
 *   no enhanced code;
 * - this message's (PermanentSendError): any other 5xx (5.6.x content, 5.3.4 size, …), or a
 *   message nodemailer refuses before sending it;
 * - transient: any other 4xx (4.2.1 mailbox busy, 4.3.0 …), a connection lost before DATA;
 * - ambiguous: a connection lost or timed out after the message data was sent (the server may
 *   have accepted it and only the answer was lost). A 4xx or 5xx answer after the data is a
 *   refusal, never ambiguous.
 * Every reason names the stage and quotes the server's answer.
 */
export function classifySmtpError(error: SMTPConnection.SMTPError, phase: SmtpPhase): Error {
  const stage = smtpStage(error, phase);
  const answer = (error.response ?? error.message).replace(/\s+/g, ' ').trim().slice(0, 300);
  const code = error.responseCode;
  if (code === undefined || code < 400) {
    if (phase === 'data-sent') return new AmbiguousSendError(`SMTP connection lost at DATA after the message data was sent (${answer}); it may have been delivered`);
    if (stage === 'AUTH') return new SenderFaultError(`SMTP credentials refused at AUTH: ${answer}`);
    if (stage === 'connect' || stage === 'TLS') return new SenderFaultError(`SMTP relay unreachable at ${stage}: ${answer}`);
    if (error.code === 'EMESSAGE' || error.code === 'EENVELOPE') return new PermanentSendError(`SMTP message refused before sending at ${stage}: ${answer}`);
    return new TransientSendError(`SMTP connection lost at ${stage}: ${answer}`);
  }
  const status = enhancedStatus(error.response);
  if (stage === 'AUTH' || code === 530 || code === 534 || code === 535) return new SenderFaultError(`SMTP credentials refused at ${stage}: ${answer}`);
  const senderStatus =
    stage === 'connect' ||
    stage === 'TLS' ||
    code === 421 ||
    code === 454 ||
    (stage === 'MAIL FROM' && code >= 500) ||
    status?.subject === '7' ||
    (status?.subject === '4' && status.detail === '5') ||
    (status?.subject === '5' && status.detail === '3');
  if (senderStatus) return new SenderFaultError(`SMTP relay refused at ${stage}: ${answer}`);
  if (code < 500) return new TransientSendError(`SMTP temporary failure at ${stage}: ${answer}`);
  const recipientStatus = status === undefined || status.subject === '1' || (status.subject === '2' && status.detail === '1');
  if (stage === 'RCPT TO' && recipientStatus) return new PermanentSendError(`SMTP recipient refused at RCPT TO: ${answer}`, true);
  return new PermanentSendError(`SMTP message refused at ${stage}: ${answer}`);
}

/**
 * LIVE email through SMTP (nodemailer's SMTPConnection, one conversation per message). The
 * adapter follows the conversation's phase (connect, AUTH, envelope, data sent) and hands the
 * message data over lazily, so every failure is placed: before DATA (safe to retry), after
 * (ambiguous), and whose problem it is (see {@link classifySmtpError}).
 */
export function smtpAdapter(settings: SmtpSettings): ChannelAdapter {
  const account = smtpAccount(settings.url);
  const { options, auth } = smtpConnectionOptions(settings.url, settings.timeoutMs);

  return {
    provider: 'smtp',
    account,
    async send(message, context): Promise<SendResult> {
      const raw = await composeEmail(message, settings.postalAddress);
      const extras = message.email;
      if (extras === undefined || message.fromEmail === null) throw new PermanentSendError('incomplete email');
      let phase: SmtpPhase = 'connect';
      const connection = new SMTPConnection(options);
      const abort = () => connection.close();
      context?.signal.addEventListener('abort', abort, { once: true });
      try {
        const info = await new Promise<SMTPConnection.SentMessageInfo>((resolve, reject) => {
          connection.on('error', (error: SMTPConnection.SMTPError) => reject(classifySmtpError(error, phase)));
          connection.once('end', () => reject(classifySmtpError(Object.assign(new Error('connection closed'), { code: 'ECONNECTION' }), phase)));
          connection.connect((connectError) => {
            if (connectError) return reject(classifySmtpError(connectError, phase));
            const deliver = () => {
              phase = 'envelope';
              // Read by the connection only after the server accepted the envelope and DATA.
              const data = new Readable({
                read() {
                  phase = 'data-sent';
                  this.push(raw);
                  this.push(null);
                },
              });
              connection.send({ from: message.fromEmail as string, to: [message.recipient] }, data, (sendError, sent) => {
                if (sendError) return reject(classifySmtpError(sendError, phase));
                resolve(sent);
              });
            };
            if (auth === undefined) return deliver();
            phase = 'AUTH';
            connection.login(auth, (loginError) => (loginError ? reject(classifySmtpError(loginError, phase)) : deliver()));
          });
        });
        connection.quit();
        return { provider: 'smtp', externalId: extras.messageId, summary: info.response.slice(0, 200) };
      } catch (error) {
        connection.close();
        throw error;
      } finally {
        context?.signal.removeEventListener('abort', abort);
      }
    },
  };
}
