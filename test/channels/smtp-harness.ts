import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';

/**
 * How the in-test SMTP server answers the next conversations. `message` is the text after the
 * code, enhanced status code included (`5.1.1 No such user here`): the server adds none itself.
 */
export type SmtpBehaviour =
  | { kind: 'accept' }
  /** RCPT TO answered with this code (4xx or 5xx); with `only`, for that address alone (the others are accepted). */
  | { kind: 'reject-recipient'; code: number; message?: string; only?: string }
  /** The message data is read, then refused with this answer (e.g. 550 `5.4.5 Daily user sending quota exceeded`). */
  | { kind: 'reject-data'; code: number; message: string }
  /** The greeting is this refusal (e.g. 421 `4.7.0 Too many connections`), then the server hangs up. */
  | { kind: 'refuse-connection'; code: number; message: string }
  /** The message data is read but never answered. */
  | { kind: 'hang-after-data' }
  /** RCPT TO is never answered. */
  | { kind: 'hang-before-data' };

/**
 * A real SMTP server on 127.0.0.1 (port 0) that parses what it receives and can be told to
 * answer 4xx, 5xx or hang at the greeting, RCPT TO or after DATA, or (with `auth`) to refuse
 * any other credentials with `535 5.7.8`; `behaviours` is a queue of answers per conversation,
 * the last repeats.
 */
export async function startSmtpServer(options: { auth?: { user: string; pass: string } } = {}) {
  const received: ParsedMail[] = [];
  let behaviours: SmtpBehaviour[] = [{ kind: 'accept' }];
  let dataCount = 0;
  let rcptCount = 0;
  let connections = 0;
  const hanging: Array<() => void> = [];
  const behaviourOf = (session: SMTPServerSession): SmtpBehaviour => {
    const picked = (session as SMTPServerSession & { behaviour?: SmtpBehaviour }).behaviour;
    if (picked !== undefined) return picked;
    const next = behaviours.length > 1 ? behaviours.shift() : behaviours[0];
    (session as SMTPServerSession & { behaviour?: SmtpBehaviour }).behaviour = next;
    return next ?? { kind: 'accept' };
  };
  const refusal = (code: number, message: string) => Object.assign(new Error(message), { responseCode: code });
  const server = new SMTPServer({
    logger: false,
    disabledCommands: options.auth === undefined ? ['AUTH', 'STARTTLS'] : ['STARTTLS'],
    authOptional: options.auth === undefined,
    allowInsecureAuth: true,
    closeTimeout: 200,
    onConnect(session, callback) {
      connections += 1;
      const behaviour = behaviourOf(session);
      if (behaviour.kind === 'refuse-connection') return callback(refusal(behaviour.code, behaviour.message));
      callback();
    },
    onAuth(auth, _session, callback) {
      if (options.auth !== undefined && auth.username === options.auth.user && auth.password === options.auth.pass) return callback(null, { user: auth.username });
      callback(refusal(535, '5.7.8 Authentication credentials invalid'));
    },
    onRcptTo(address, session, callback) {
      rcptCount += 1;
      const behaviour = behaviourOf(session);
      if (behaviour.kind === 'reject-recipient' && (behaviour.only === undefined || behaviour.only === address.address)) {
        callback(refusal(behaviour.code, behaviour.message ?? (behaviour.code >= 500 ? 'No such user here' : 'Try again later')));
      } else if (behaviour.kind === 'hang-before-data') {
        hanging.push(() => callback());
      } else callback();
    },
    onData(stream, session, callback) {
      dataCount += 1;
      const behaviour = behaviourOf(session);
      simpleParser(stream)
        .then((mail) => {
          if (behaviour.kind === 'hang-after-data') {
            hanging.push(() => callback());
            return;
          }
          if (behaviour.kind === 'reject-data') return callback(refusal(behaviour.code, behaviour.message));
          received.push(mail);
          callback();
        })
        .catch((error: unknown) => callback(error as Error));
    },
  });
  server.on('error', () => {
    // Client disconnects (timeouts in the tests) surface here; they are expected.
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = (server as unknown as { server: { address(): AddressInfo } }).server.address();
  return {
    port,
    url: options.auth === undefined ? `smtp://127.0.0.1:${port}` : `smtp://${options.auth.user}:${encodeURIComponent(options.auth.pass)}@127.0.0.1:${port}`,
    received,
    counts: () => ({ connections, rcpt: rcptCount, data: dataCount }),
    /** Sets the answers of the next conversations (the last one repeats). */
    behave(...next: SmtpBehaviour[]) {
      behaviours = next;
    },
    async close() {
      for (const release of hanging.splice(0)) release();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type SmtpHarness = Awaited<ReturnType<typeof startSmtpServer>>;
