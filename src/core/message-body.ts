import { convert, type HtmlToTextOptions } from 'html-to-text';
import { z } from 'zod';

/**
 * The one home of the message body contract. A body is stored with its format, and escaped
 * exactly once, by whatever produces HTML:
 * - `text` (the default): rendered with values as they are; it is the text part verbatim, and
 *   the adapter that needs HTML makes the HTML part from it once ({@link textToHtml}).
 * - `html`: rendered with every value HTML-escaped; it is the HTML part as is, and the text
 *   part is derived from it ({@link htmlToText}).
 * Subjects are always text: they are never HTML-escaped (mail headers have their own encoding).
 */
export const bodyFormats = ['text', 'html'] as const;
export const bodyFormatSchema = z.enum(bodyFormats);
export type BodyFormat = z.infer<typeof bodyFormatSchema>;

/** How a renderer writes interpolated values into its output: as they are, or HTML-escaped. */
export type ValueEscaping = 'none' | 'html';

/** The value escaping a body of this format is rendered with (subjects always use `none`). */
export function valueEscaping(format: BodyFormat): ValueEscaping {
  return format === 'html' ? 'html' : 'none';
}

const htmlEntities: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and attribute values (`& < > " '`). */
export function escapeHtml(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (char) => htmlEntities[char] ?? char);
}

const linkPattern = /https?:\/\/[^\s<>"]+/g;

/**
 * Splits punctuation that ends a sentence off a link found in running text ("see
 * https://x.test/a." links to `/a`), keeping a closing parenthesis the link itself opened.
 */
function trimLink(candidate: string): { link: string; rest: string } {
  let end = candidate.length;
  for (;;) {
    const last = candidate[end - 1];
    const kept = candidate.slice(0, end);
    if (last !== undefined && ".,;:!?'*".includes(last)) end -= 1;
    else if (last === ')' && (kept.match(/\(/g)?.length ?? 0) < (kept.match(/\)/g)?.length ?? 0)) end -= 1;
    else break;
  }
  return { link: candidate.slice(0, end), rest: candidate.slice(end) };
}

/** Escapes one paragraph of text and makes its http(s) links clickable. */
function paragraphHtml(paragraph: string): string {
  let html = '';
  let from = 0;
  for (const match of paragraph.matchAll(linkPattern)) {
    const { link, rest } = trimLink(match[0]);
    if (!/^https?:\/\/[^/?#]/.test(link)) continue;
    html += escapeHtml(paragraph.slice(from, match.index));
    html += `<a href="${escapeHtml(link)}">${escapeHtml(link)}</a>${escapeHtml(rest)}`;
    from = match.index + match[0].length;
  }
  html += escapeHtml(paragraph.slice(from));
  return html.replace(/\n/g, '<br>\n');
}

/**
 * The HTML of a text body: escaped once, a paragraph per block of lines separated by a blank
 * line, `<br>` for a single line break, http(s) links clickable.
 */
export function textToHtml(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .split(/\n[ \t]*\n\s*/)
    .map((paragraph) => paragraph.replace(/^\n+|\s+$/g, ''))
    .filter((paragraph) => paragraph !== '')
    .map((paragraph) => `<p>${paragraphHtml(paragraph)}</p>`)
    .join('\n');
}

/**
 * What a reader's text part shows of an HTML body: html-to-text without line wrapping, keeping
 * the case of headings (names must read as they were written) and each link's URL after its
 * text unless the text is the URL.
 */
const htmlToTextOptions: HtmlToTextOptions = {
  wordwrap: false,
  selectors: [
    ...(['h1', 'h2', 'h3', 'h4', 'h5', 'h6'] as const).map((selector) => ({ selector, options: { uppercase: false } })),
    { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
  ],
};

/** The text part of an HTML body (see {@link htmlToTextOptions}). */
export function htmlToText(html: string): string {
  return convert(html, htmlToTextOptions);
}

/**
 * Puts a plain-text line (an LLM opening line) before a body, escaped once: a text body gets it
 * as its first paragraph; an HTML body gets it escaped in a `<p>`, inside `<body>` when it has one.
 */
export function prependLine(body: string, format: BodyFormat, line: string): string {
  if (format === 'text') return `${line}\n\n${body}`;
  const paragraph = `<p>${escapeHtml(line)}</p>\n`;
  const bodyTag = /<body(?:\s[^>]*)?>/i.exec(body);
  if (bodyTag === null) return `${paragraph}${body}`;
  const at = bodyTag.index + bodyTag[0].length;
  return `${body.slice(0, at)}\n${paragraph}${body.slice(at)}`;
}
