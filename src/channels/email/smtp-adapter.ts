import { Readable } from 'node:stream';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { z } from 'zod';
import { escapeHtml, htmlToText, textToHtml, type BodyFormat } from '../../messages/message-body.js';
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
