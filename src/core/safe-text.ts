import { z } from 'zod';

/**
 * Text that Postgres, JSON and mail headers can all hold. Two things cannot: a NUL character
 * (Postgres `text` and `jsonb` refuse it) and a lone UTF-16 surrogate (not a character at all;
 * UTF-8 cannot encode it). Input edges refuse such text with a 400 naming the field; webhooks,
 * which must never lose an event, replace it instead.
 */

const unsafeCharacter = /\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const unsafeCharacters = new RegExp(unsafeCharacter.source, 'g');

/** What replaces an unsafe character: U+FFFD, the replacement character. */
export const REPLACEMENT_CHARACTER = '\uFFFD';

/** The deepest JSON accepted anywhere (objects and arrays nested in each other). */
export const MAX_JSON_DEPTH = 64;

/** Names the first unsafe character in a string, or undefined when there is none. */
export function unsafeTextIn(text: string): 'a NUL character' | 'a lone surrogate' | undefined {
  const match = unsafeCharacter.exec(text);
  if (match === null) return undefined;
  return match[0] === '\0' ? 'a NUL character' : 'a lone surrogate';
}

/** The string with every NUL and lone surrogate replaced by U+FFFD. */
export function replaceUnsafeText(text: string): string {
  return unsafeCharacter.test(text) ? text.replace(unsafeCharacters, REPLACEMENT_CHARACTER) : text;
}

/** A JSON path as people write it: `leads[3].firstName`. */
export function describePath(path: ReadonlyArray<string | number>): string {
  return path.reduce<string>((shown, segment) => (typeof segment === 'number' ? `${shown}[${segment}]` : shown === '' ? segment : `${shown}.${segment}`), '');
}

/**
 * The path of the first string (value or key) holding an unsafe character in a parsed JSON
 * value, with what it holds; undefined when the value is clean.
 */
export function findUnsafeText(value: unknown, path: Array<string | number> = []): { path: string; found: string } | undefined {
  if (typeof value === 'string') {
    const found = unsafeTextIn(value);
    return found === undefined ? undefined : { path: describePath(path), found };
  }
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const hit = findUnsafeText(item, [...path, index]);
      if (hit !== undefined) return hit;
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      const keyHit = unsafeTextIn(key);
      if (keyHit !== undefined) return { path: describePath([...path, key]), found: `${keyHit} in its name` };
      const hit = findUnsafeText(item, [...path, key]);
      if (hit !== undefined) return hit;
    }
  }
  return undefined;
}

/** A parsed JSON value with every unsafe character replaced (keys too), and whether any was. */
export function replaceUnsafeJson<T>(value: T): { value: T; replaced: boolean } {
  let replaced = false;
  const walk = (item: unknown): unknown => {
    if (typeof item === 'string') {
      const clean = replaceUnsafeText(item);
      if (clean !== item) replaced = true;
      return clean;
    }
    if (Array.isArray(item)) return item.map(walk);
    if (typeof item === 'object' && item !== null && !(item instanceof Date)) {
      return Object.fromEntries(Object.entries(item).map(([key, entry]) => [walk(key) as string, walk(entry)]));
    }
    return item;
  };
  const clean = walk(value) as T;
  return { value: replaced ? clean : value, replaced };
}

/**
 * How deeply objects and arrays nest in a JSON text, read without parsing it (strings are
 * skipped), so that a hostile body is refused before a recursive parser or serializer meets it.
 */
export function jsonNestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text.charCodeAt(index);
    if (inString) {
      if (char === 0x5c) index += 1;
      else if (char === 0x22) inString = false;
    } else if (char === 0x22) inString = true;
    else if (char === 0x7b || char === 0x5b) {
      depth += 1;
      if (depth > deepest) deepest = depth;
    } else if (char === 0x7d || char === 0x5d) depth -= 1;
  }
  return deepest;
}

/**
 * The shared zod refinement of every text edge: a string that Postgres can store, refused with
 * "contains a NUL character" (or "a lone surrogate") at its field otherwise. Chain the other
 * string checks after it (`safeText.trim().max(200)`).
 */
export const safeText = z.string().superRefine((value, ctx) => {
  const found = unsafeTextIn(value);
  if (found !== undefined) ctx.addIssue({ code: 'custom', message: `contains ${found}` });
});
