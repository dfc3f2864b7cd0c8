import { Readable } from 'node:stream';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { z } from 'zod';
import {
  AmbiguousSendError,
  PermanentSendError,
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
const transientNetworkCodes = new Set(['ETIMEDOUT', 'ESOCKET', 'ECONNECTION', 'ECONNRESET', 'ECONNREFUSED', 'EDNS', 'ETLS']);

/** The account part of an SMTP URL, safe to log and to name a breaker with: user@host:port, no password. */
export function smtpAccount(url: string): string {
  const parsed = new URL(url);
  const port = parsed.port === '' ? (parsed.protocol === 'smtps:' ? '465' : '587') : parsed.port;
  return `${parsed.username === '' ? '' : `${decodeURIComponent(parsed.username)}@`}${parsed.hostname}:${port}`;
}

function refuseLineBreaks(fields: Record<string, string | null | undefined>): void {
  for (const [field, value] of Object.entries(fields)) {
    // CR, LF and NUL are what header injection is made of; no header value needs them.
    if (value != null && /[\r\n\0]/.test(value)) {
      throw new HeaderInjectionError(`refused before sending: ${field} contains a line break or NUL (header injection)`);
    }
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char] ?? char);
}

/** The text and HTML parts: the body, then a footer with the postal address and the unsubscribe link. */
export function emailParts(body: string, unsubscribeUrl: string, postalAddress: string | undefined): { text: string; html: string } {
  const footerLines = [...(postalAddress === undefined ? [] : [postalAddress]), `Unsubscribe: ${unsubscribeUrl}`];
  const text = `${body}\n\n--\n${footerLines.join('\n')}\n`;
  const paragraphs = body
    .split(/\n{2,}/)
    .map((paragraph) => `<p>${escapeHtml(paragraph).replace(/\n/g, '<br>')}</p>`)
    .join('\n');
  const postal = postalAddress === undefined ? '' : `${escapeHtml(postalAddress)}<br>`;
  const html = `<!doctype html><html><body>${paragraphs}\n<hr><p style="font-size:12px;color:#666">${postal}<a href="${escapeHtml(unsubscribeUrl)}">Unsubscribe</a></p></body></html>`;
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
  });
  for (const [field, value] of [
    ['from address', message.fromEmail],
    ['recipient', message.recipient],
    ['reply-to', message.replyTo],
  ] as const) {
    if (value !== null && !emailAddress.safeParse(value).success) throw new PermanentSendError(`refused before sending: ${field} is not an email address`);
  }
  if (message.fromEmail === null) throw new PermanentSendError('refused before sending: the campaign has no From address');
  const { text, html } = emailParts(message.body, extras.unsubscribeUrl, postalAddress);
  const composer = new MailComposer({
    from: message.fromName === null ? message.fromEmail : { name: message.fromName, address: message.fromEmail },
    to: message.recipient,
    ...(message.replyTo === null ? {} : { replyTo: message.replyTo }),
    subject: message.subject ?? '',
    messageId: extras.messageId,
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
 * Sorts an SMTP failure: 4xx → transient; 5xx → permanent (a rejected recipient is a hard
 * bounce); a network failure or timeout before the message data was handed over → transient,
 * after → ambiguous (the server may have accepted it and only the answer was lost).
 */
export function classifySmtpError(error: SMTPConnection.SMTPError, dataSent: boolean): Error {
  const code = error.responseCode;
  const summary = `SMTP ${error.command ?? ''} ${code ?? error.code ?? ''}: ${error.response ?? error.message}`.replace(/\s+/g, ' ').trim();
  if (error.code === 'EAUTH') return new PermanentSendError(`SMTP authentication failed: ${error.response ?? error.message}`);
  if (code !== undefined && code >= 500) return new PermanentSendError(summary, error.command === 'RCPT TO');
  if (code !== undefined && code >= 400) return new TransientSendError(summary);
  if (dataSent) return new AmbiguousSendError(`${summary} after the message data was sent; it may have been delivered`);
  if (error.code !== undefined && transientNetworkCodes.has(error.code)) return new TransientSendError(summary);
  return new TransientSendError(summary);
}

/**
 * LIVE email through SMTP (nodemailer's SMTPConnection, one conversation per message). The
 * message data is handed over lazily, so the adapter knows whether a failure came before DATA
 * (safe to retry) or after (ambiguous).
 */
export function smtpAdapter(settings: SmtpSettings): ChannelAdapter {
  const url = new URL(settings.url);
  const secure = url.protocol === 'smtps:';
  const account = smtpAccount(settings.url);
  const auth = url.username === '' ? undefined : { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) };

  return {
    provider: 'smtp',
    account,
    async send(message, context): Promise<SendResult> {
      const raw = await composeEmail(message, settings.postalAddress);
      const extras = message.email;
      if (extras === undefined || message.fromEmail === null) throw new PermanentSendError('incomplete email');
      let dataSent = false;
      const connection = new SMTPConnection({
        host: url.hostname,
        port: url.port === '' ? (secure ? 465 : 587) : Number(url.port),
        secure,
        connectionTimeout: settings.timeoutMs,
        greetingTimeout: settings.timeoutMs,
        socketTimeout: settings.timeoutMs,
      });
      const abort = () => connection.close();
      context.signal.addEventListener('abort', abort, { once: true });
      try {
        const info = await new Promise<SMTPConnection.SentMessageInfo>((resolve, reject) => {
          connection.on('error', (error: SMTPConnection.SMTPError) => reject(classifySmtpError(error, dataSent)));
          connection.once('end', () => reject(classifySmtpError(Object.assign(new Error('connection closed'), { code: 'ECONNECTION' }), dataSent)));
          connection.connect((connectError) => {
            if (connectError) return reject(classifySmtpError(connectError, false));
            const deliver = () => {
              // Read by the connection only after the server accepted the envelope and DATA.
              const data = new Readable({
                read() {
                  dataSent = true;
                  this.push(raw);
                  this.push(null);
                },
              });
              connection.send({ from: message.fromEmail as string, to: [message.recipient] }, data, (sendError, sent) => {
                if (sendError) return reject(classifySmtpError(sendError, dataSent));
                resolve(sent);
              });
            };
            if (auth === undefined) return deliver();
            connection.login(auth, (loginError) => (loginError ? reject(classifySmtpError(loginError, false)) : deliver()));
          });
        });
        connection.quit();
        return { provider: 'smtp', externalId: extras.messageId, summary: info.response.slice(0, 200) };
      } catch (error) {
        connection.close();
        throw error;
      } finally {
        context.signal.removeEventListener('abort', abort);
      }
    },
  };
}
