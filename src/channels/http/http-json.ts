import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { AmbiguousSendError, PermanentSendError, RateLimitedError, SenderFaultError, TransientSendError } from '../adapter.js';

/** One JSON call to a platform API. Headers may hold the bearer token: never log a request. */
export interface JsonRequest {
  /** Names the platform in errors (`x`, `linkedin`, `instagram`, `llm`). */
  provider: string;
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface JsonResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** How long a platform asks us to wait: Retry-After (seconds or a date), or X's x-rate-limit-reset (epoch s). */
export function retryAfterMs(headers: IncomingHttpHeaders, now = Date.now(), fallbackMs = 60_000): number {
  const retryAfter = headers['retry-after'];
  if (typeof retryAfter === 'string' && retryAfter.trim() !== '') {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  const reset = headers['x-rate-limit-reset'];
  if (typeof reset === 'string' && Number.isFinite(Number(reset))) return Math.max(0, Number(reset) * 1000 - now);
  return fallbackMs;
}

/** A short, secret-free description of an error answer for errors and the message's last_error. */
function describe(response: JsonResponse): string {
  const body = typeof response.body === 'string' ? response.body : JSON.stringify(response.body);
  return `HTTP ${response.status}${body === undefined || body === '' ? '' : `: ${body.slice(0, 300)}`}`;
}

/** Whose problem a platform's refusal is, when its client can tell from the documented error shape. */
export type HttpRefusal = 'recipient' | 'sender' | 'message';

/**
 * Turns a non-2xx answer into the adapter error classes, by whose problem it is: 429 → rate
 * limited (with the platform's wait); 401, and 403 (the token or the app lacks a permission)
 * → the sender's (the account pauses, no lead is consumed); 5xx → transient; other 4xx → this
 * message's. A client that reads the platform's error shape passes `refusal` when it knows
 * better: `recipient` for a user the platform says cannot be messaged or does not exist.
 */
export function httpError(provider: string, response: JsonResponse, refusal?: HttpRefusal): Error {
  const what = `${provider} answered ${describe(response)}`;
  if (refusal === 'recipient') return new PermanentSendError(`${provider} cannot deliver to this recipient (${describe(response)})`, true);
  if (refusal === 'message') return new PermanentSendError(what);
  if (refusal === 'sender' || response.status === 401 || response.status === 403) {
    return new SenderFaultError(`${provider} refused our credentials or app permissions (${describe(response)})`);
  }
  if (response.status === 429) return new RateLimitedError(what, retryAfterMs(response.headers));
  if (response.status >= 500) return new TransientSendError(what);
  return new PermanentSendError(what);
}

/**
 * Sends one JSON request with node's http client, so that a failure can be placed exactly: an
 * error or timeout before the request was fully written is transient (the platform cannot have
 * acted on it), after it is ambiguous (it may have). Resolves with any HTTP answer; callers
 * classify statuses with {@link httpError}.
 */
export function requestJson(call: JsonRequest): Promise<JsonResponse> {
  const url = new URL(call.url);
  const payload = call.body === undefined ? undefined : Buffer.from(JSON.stringify(call.body));
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<JsonResponse>((resolve, reject) => {
    let written = false;
    let settled = false;
    const fail = (reason: string) => {
      if (settled) return;
      settled = true;
      reject(
        written
          ? new AmbiguousSendError(`${call.provider}: ${reason} after the request was sent; it may have been acted on`)
          : new TransientSendError(`${call.provider}: ${reason} before the request was sent`),
      );
    };
    const req = send(url, {
      method: call.method,
      headers: {
        accept: 'application/json',
        ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(payload.length) }),
        ...call.headers,
      },
    });
    const timer = setTimeout(() => {
      fail(`no answer within ${call.timeoutMs} ms`);
      req.destroy();
    }, call.timeoutMs);
    const abort = () => {
      fail('call aborted');
      req.destroy();
    };
    call.signal?.addEventListener('abort', abort, { once: true });
    const cleanUp = () => {
      clearTimeout(timer);
      call.signal?.removeEventListener('abort', abort);
    };
    req.on('finish', () => {
      written = true;
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      cleanUp();
      fail(error.code ?? 'network error');
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', () => {
        cleanUp();
        fail('response interrupted');
      });
      res.on('end', () => {
        cleanUp();
        if (settled) return;
        settled = true;
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = text === '' ? undefined : JSON.parse(text);
        } catch {
          // Not JSON (a proxy's error page): keep the text for the error message.
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.end(payload);
  });
}
