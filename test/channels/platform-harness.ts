import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  at: number;
}

/** One answer of the fake platform; `hang` never answers. */
export type Answer = { status: number; headers?: Record<string, string>; body?: unknown } | 'hang';
export type Responder = (request: RecordedRequest) => Answer;

/**
 * A local HTTP server (127.0.0.1, port 0) that speaks a platform API's request and response
 * shapes: it records every request and answers from a queue of responders (the last repeats).
 */
export async function startPlatformServer(initial: Responder) {
  const requests: RecordedRequest[] = [];
  let responders: Responder[] = [initial];
  const hanging: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const recorded: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: text === '' ? undefined : (JSON.parse(text) as unknown), at: Date.now() };
      requests.push(recorded);
      const responder = responders.length > 1 ? responders.shift() : responders[0];
      const answer = responder?.(recorded) ?? { status: 500 };
      if (answer === 'hang') {
        hanging.push(res);
        return;
      }
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    /** Sets the responders of the next requests (the last one repeats). */
    answer(...next: Responder[]) {
      responders = next;
    },
    async close() {
      for (const res of hanging.splice(0)) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type PlatformServer = Awaited<ReturnType<typeof startPlatformServer>>;
