/**
 * The HTTP client of the security probe: sends requests to one api, counts every answer by
 * status, and keeps every 5xx, every request that got no answer, and every answer a probe
 * class did not expect.
 */

/** What one probe request got back. */
export interface ProbeAnswer {
  status: number;
  text: string;
  headers: Headers;
}

/** A request of the probe: its headers and body (text, bytes that need not be UTF-8, or a multipart form). */
export interface ProbeRequest {
  headers?: Record<string, string>;
  body?: string | Uint8Array | FormData;
}

/** The answers a probe class expects, as a test and the words the report uses for it. */
export interface Expectation {
  label: string;
  accepts: (status: number) => boolean;
}

/** A client error: the request was refused, as bad input must be. */
export const clientError: Expectation = { label: '4xx', accepts: (status) => status >= 400 && status < 500 };
/** Anything but a server error: for input a route may accept as data. */
export const notServerError: Expectation = { label: 'below 500', accepts: (status) => status > 0 && status < 500 };
/** Exactly one status. */
export function exactly(...statuses: number[]): Expectation {
  return { label: statuses.join(' or '), accepts: (status) => statuses.includes(status) };
}
/** A success: what a signed webhook must always get, whatever its text. */
export const success: Expectation = { label: '2xx', accepts: (status) => status >= 200 && status < 300 };

/** How long one request may go unanswered before the probe counts it as never answered. */
const ANSWER_TIMEOUT_MS = 20_000;

/** Counts of a probe run, by answer. */
export class ProbeTally {
  requests = 0;
  readonly byStatus = new Map<number, number>();
  /** `METHOD path → status` of every 5xx. */
  readonly serverErrors: string[] = [];
  /** `METHOD path: reason` of every request that got no HTTP answer. */
  readonly unanswered: string[] = [];
  /** `class: METHOD path → status (expected …)` of every answer its class did not expect. */
  readonly unexpected: string[] = [];
  /** Requests per probe class, in the order the classes ran. */
  readonly byClass = new Map<string, number>();

  constructor(private readonly baseUrl: string) {}

  /** The absolute URL of a path on the api. */
  url(path: string): string {
    return `${this.baseUrl}${path}`;
  }

  /** Records an answer obtained without {@link send} (raw sockets: uploads); status 0: none came. */
  record(probeClass: string, method: string, path: string, status: number, expected: Expectation): void {
    this.requests += 1;
    this.byClass.set(probeClass, (this.byClass.get(probeClass) ?? 0) + 1);
    const where = `${method} ${shorten(path)}`;
    if (status === 0) {
      this.unanswered.push(`${where}: no answer`);
      return;
    }
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
    if (status >= 500) this.serverErrors.push(`${where} → ${status}`);
    if (!expected.accepts(status)) this.unexpected.push(`${probeClass}: ${where} → ${status} (expected ${expected.label})`);
  }

  /** Sends one request, counts its answer under `probeClass`, and returns it (status 0: no answer). */
  async send(probeClass: string, method: string, path: string, request: ProbeRequest, expected: Expectation): Promise<ProbeAnswer> {
    let answer: ProbeAnswer;
    try {
      const response = await fetch(this.url(path), {
        method,
        headers: request.headers,
        ...(request.body === undefined ? {} : { body: request.body }),
        redirect: 'manual',
        signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS),
      });
      answer = { status: response.status, text: await response.text(), headers: response.headers };
    } catch (error) {
      this.requests += 1;
      this.byClass.set(probeClass, (this.byClass.get(probeClass) ?? 0) + 1);
      this.unanswered.push(`${method} ${shorten(path)}: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}`);
      return { status: 0, text: '', headers: new Headers() };
    }
    this.record(probeClass, method, path, answer.status, expected);
    return answer;
  }

  /** Answers counted by status class (`2xx`, `3xx`, `4xx`, `5xx`). */
  byStatusClass(): Record<string, number> {
    const classes: Record<string, number> = { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
    for (const [status, count] of this.byStatus) {
      const key = `${Math.floor(status / 100)}xx`;
      classes[key] = (classes[key] ?? 0) + count;
    }
    return classes;
  }
}

/** A path short enough to print (a 100 KB slug would flood the report). */
function shorten(path: string): string {
  return path.length > 160 ? `${path.slice(0, 150)}…(${path.length} chars)` : path;
}

/** Runs `work` over `items`, at most `limit` at a time. */
export async function inPool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next] as T;
      next += 1;
      await work(item);
    }
  });
  await Promise.all(lanes);
}
