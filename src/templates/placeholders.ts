/** A leftover placeholder found in rendered output. */
export interface PlaceholderHit {
  part: 'subject' | 'body';
  pattern: string;
  /** The offending text with a little context around it. */
  excerpt: string;
}

/**
 * Leftovers that must never reach a recipient: template syntax, editing notes, bracketed or
 * angle-bracketed placeholder tokens (also HTML-escaped), and stringified missing values.
 */
const patterns: ReadonlyArray<{ pattern: string; regex: RegExp }> = [
  { pattern: '{{', regex: /\{\{/ },
  { pattern: '}}', regex: /\}\}/ },
  { pattern: '<%', regex: /<%|&lt;%/ },
  { pattern: '%>', regex: /%>|%&gt;/ },
  { pattern: 'TODO', regex: /\bTODO\b/ },
  { pattern: 'TBD', regex: /\bTBD\b/ },
  { pattern: '[PLACEHOLDER]', regex: /\[[A-Z][A-Z0-9 _-]*\]/ },
  { pattern: '[Your …]', regex: /\[(?:your|insert|enter|add)\b[^\]\n]*\]/i },
  { pattern: '<VALUE>', regex: /<[A-Z][A-Z0-9_]+>|&lt;[A-Z][A-Z0-9_]+&gt;/ },
  { pattern: 'undefined', regex: /\bundefined\b/ },
  { pattern: 'null', regex: /\bnull\b/ },
  { pattern: 'NaN', regex: /\bNaN\b/ },
  { pattern: '[object Object]', regex: /\[object Object\]/ },
];

function excerptAround(text: string, index: number, length: number): string {
  const start = Math.max(0, index - 20);
  const end = Math.min(text.length, index + length + 20);
  return `${start > 0 ? '…' : ''}${text.slice(start, end).replace(/\s+/g, ' ')}${end < text.length ? '…' : ''}`;
}

/** Every placeholder pattern found in a rendered subject and body (first hit of each pattern per part). */
export function findPlaceholders(parts: { subject?: string | null; body: string | null }): PlaceholderHit[] {
  const hits: PlaceholderHit[] = [];
  for (const [part, text] of [
    ['subject', parts.subject ?? null],
    ['body', parts.body],
  ] as const) {
    if (text === null) continue;
    for (const { pattern, regex } of patterns) {
      const match = regex.exec(text);
      if (match !== null) hits.push({ part, pattern, excerpt: excerptAround(text, match.index, match[0].length) });
    }
  }
  return hits;
}

/** One line for a message's skip reason: which placeholder, where, and the offending text. */
export function describePlaceholders(hits: readonly PlaceholderHit[]): string {
  return `placeholder left in output: ${hits.map((hit) => `${hit.pattern} in ${hit.part}: "${hit.excerpt}"`).join('; ')}`;
}
