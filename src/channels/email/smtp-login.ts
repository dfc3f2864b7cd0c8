import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { classifySmtpError, smtpConnectionOptions, type SmtpPhase } from './smtp-adapter.js';

/**
 * Logs in to the SMTP relay and leaves (connect, EHLO, STARTTLS when offered, AUTH, QUIT): no
 * mail. Resolves when the relay accepts the credentials; otherwise rejects with the failure
 * classified as a send would be (`SMTP credentials refused at AUTH: 535 …`).
 */
export async function verifySmtpLogin(smtpUrl: string, timeoutMs: number): Promise<void> {
  const { options, auth } = smtpConnectionOptions(smtpUrl, timeoutMs);
  const connection = new SMTPConnection(options);
  let phase: SmtpPhase = 'connect';
  try {
    await new Promise<void>((resolve, reject) => {
      connection.on('error', (error: SMTPConnection.SMTPError) => reject(classifySmtpError(error, phase)));
      connection.once('end', () => reject(classifySmtpError(Object.assign(new Error('connection closed'), { code: 'ECONNECTION' }), phase)));
      connection.connect((connectError) => {
        if (connectError) return reject(classifySmtpError(connectError, phase));
        if (auth === undefined) return resolve();
        phase = 'AUTH';
        connection.login(auth, (loginError) => (loginError ? reject(classifySmtpError(loginError, phase)) : resolve()));
      });
    });
    connection.quit();
  } catch (error) {
    connection.close();
    throw error;
  }
}
