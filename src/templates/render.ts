import { escapeHtml, type ValueEscaping } from '../core/message-body.js';
import { parseTemplate, renderParsedTemplate, TemplateSyntaxError, type ParsedTemplate, type RenderContext, type TemplateIssue } from './template-language.js';

export { TemplateRenderError, TemplateSyntaxError, type RenderContext } from './template-language.js';

/**
 * Parsed templates by text, least recently used first. Bounded by the text they hold, not only
 * by count, and only templates that passed go in: a stream of large or refused templates cannot
 * grow the process.
 */
const parsedCache = new Map<string, ParsedTemplate>();
/** The most template text (UTF-16 code units, about 2 bytes each) the cache keeps. */
const maxCachedChars = 4 * 1024 * 1024;
let cachedChars = 0;

function remember(text: string, template: ParsedTemplate): void {
  parsedCache.set(text, template);
  cachedChars += text.length;
  for (const [oldest] of parsedCache) {
    if (cachedChars <= maxCachedChars) break;
    parsedCache.delete(oldest);
    cachedChars -= oldest.length;
  }
}

/** What the parse cache holds now: templates and their text's length (for tests and metrics). */
export function templateCacheSize(): { templates: number; chars: number } {
  return { templates: parsedCache.size, chars: cachedChars };
}

/**
 * A template parsed under the template language (cached), or every issue that refuses it.
 * Nothing is cached for a refused template.
 */
export function parsedTemplate(text: string): { ok: true; template: ParsedTemplate } | { ok: false; issues: TemplateIssue[]; customFields: ReadonlyMap<string, number> } {
  const cached = parsedCache.get(text);
  if (cached !== undefined) {
    // Most recently used goes last.
    parsedCache.delete(text);
    parsedCache.set(text, cached);
    return { ok: true, template: cached };
  }
  const parsed = parseTemplate(text);
  if (parsed.ok) remember(text, parsed.template);
  return parsed;
}

/**
 * Parses a template (cached).
 * @throws TemplateSyntaxError naming the first problem and its line when it is refused.
 */
export function compileTemplate(template: string): ParsedTemplate {
  const parsed = parsedTemplate(template);
  if (parsed.ok) return parsed.template;
  const [first] = parsed.issues;
  throw new TemplateSyntaxError(first?.message ?? 'the template is refused', first?.line);
}

const asIs = (value: string) => value;

/**
 * Renders a template strictly: a missing value is an error (never "undefined"). The escaping is
 * the caller's choice, made from the body format (`valueEscaping()` in message-body.ts): with
 * `html` every value is HTML-escaped, once; with `none` (subjects, text bodies) values are
 * written as they are, and whoever turns the text into HTML escapes it then. A template is only
 * ever parsed and walked (template-language.ts), never compiled to code.
 * @param escaping - how values are written into the output.
 * @defaultValue escaping `none`
 * @throws TemplateSyntaxError, TemplateRenderError
 */
export function renderTemplate(template: string, context: RenderContext, escaping: ValueEscaping = 'none'): string {
  return renderParsedTemplate(compileTemplate(template), context, escaping === 'html' ? escapeHtml : asIs);
}
