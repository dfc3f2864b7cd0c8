import { Eta, EtaParseError } from 'eta';
import { escapeHtml, type ValueEscaping } from '../messages/message-body.js';

/** The fields a message template can use, as `it.lead.*` and `it.campaign.*`. */
export interface RenderContext {
  lead: {
    email: string | null;
    firstName: string | null;
    lastName: string | null;
    company: string | null;
    custom: Record<string, unknown>;
  };
  campaign: { name: string; slug: string };
}

/** A template that does not compile; `line` is 1-based when known. */
export class TemplateSyntaxError extends Error {
  override name = 'TemplateSyntaxError';
  constructor(
    message: string,
    readonly line: number | undefined,
  ) {
    super(message);
  }
}

/** Strict rendering failed: a value was missing (null, undefined, empty) or not printable. */
export class TemplateRenderError extends Error {
  override name = 'TemplateRenderError';
}

/**
 * Every interpolation `<%= expr %>` is rewritten to pass `[expr, "expr", line]` through the
 * filter, so that a missing value fails naming the expression and its line instead of printing
 * "undefined". Raw output (`<%~ %>`) is refused: it would let a lead's text into HTML unescaped.
 */
const strictPlugin = {
  processAST(ast: Array<string | { t: string; val: string; lineNo?: number }>) {
    return ast.map((node) => {
      if (typeof node === 'string') return node;
      if (node.t === 'r') throw new TemplateSyntaxError(`raw output <%~ ${node.val.trim()} %> is not allowed; use <%= %>`, node.lineNo);
      if (node.t !== 'i') return node;
      return { ...node, val: `[(${node.val}), ${JSON.stringify(node.val.trim())}, ${node.lineNo ?? 0}]` };
    });
  },
};

function strictValue(input: unknown): string {
  const [value, source, line] = input as [unknown, string, number];
  const where = `${source} (line ${line})`;
  if (value === undefined || value === null) throw new TemplateRenderError(`missing value for ${where}`);
  if (typeof value === 'number' && !Number.isFinite(value)) throw new TemplateRenderError(`${where} is not a finite number`);
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean' && typeof value !== 'bigint') {
    throw new TemplateRenderError(`${where} is not printable text`);
  }
  const text = String(value);
  if (text.trim() === '') throw new TemplateRenderError(`missing value for ${where} (empty)`);
  return text;
}

function makeEta(escaping: ValueEscaping): Eta {
  // debug keeps the line of every tag (used in messages); cache off: compiled functions are cached below.
  return new Eta({
    autoEscape: escaping === 'html',
    // The same escape as everything else that writes text into HTML (message-body.ts).
    escapeFunction: escapeHtml,
    autoFilter: true,
    filterFunction: strictValue,
    debug: true,
    useWith: false,
    cache: false,
    rmWhitespace: false,
    plugins: [strictPlugin],
  });
}

const engines: Record<ValueEscaping, Eta> = { html: makeEta('html'), none: makeEta('none') };
const compiled = new Map<string, ReturnType<Eta['compile']>>();
/** Bounds the compile cache: templates are few, but inline edits could otherwise grow it forever. */
const maxCompiled = 5000;

function lineOf(message: string): number | undefined {
  const match = /at line (\d+)/.exec(message);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/**
 * Compiles a template (cached by value escaping and text).
 * @param escaping - how values are written: `none` (text) or `html` (escaped once, here).
 * @throws TemplateSyntaxError naming the line when it does not compile.
 */
export function compileTemplate(template: string, escaping: ValueEscaping = 'none'): ReturnType<Eta['compile']> {
  const key = `${escaping}\u0000${template}`;
  const cached = compiled.get(key);
  if (cached !== undefined) return cached;
  let render: ReturnType<Eta['compile']>;
  try {
    render = engines[escaping].compile(template);
  } catch (error) {
    if (error instanceof TemplateSyntaxError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    const firstLine = message.split('\n').find((line) => line.trim() !== '') ?? message;
    if (error instanceof EtaParseError) throw new TemplateSyntaxError(firstLine.replace(/:$/, ''), lineOf(message));
    throw new TemplateSyntaxError(`does not compile: ${message.split('\n').slice(0, 4).join(' ').replace(/\s+/g, ' ').trim()}`, undefined);
  }
  if (compiled.size >= maxCompiled) compiled.clear();
  compiled.set(key, render);
  return render;
}

/**
 * Renders a template strictly: a missing value is an error (never "undefined"). The escaping is
 * the caller's choice, made from the body format (`valueEscaping()` in message-body.ts): with
 * `html` every value is HTML-escaped, once; with `none` (subjects, text bodies) values are
 * written as they are, and whoever turns the text into HTML escapes it then.
 * @param escaping - how values are written into the output.
 * @defaultValue escaping `none`
 * @throws TemplateSyntaxError, TemplateRenderError
 */
export function renderTemplate(template: string, context: RenderContext, escaping: ValueEscaping = 'none'): string {
  const render = compileTemplate(template, escaping);
  try {
    return engines[escaping].render(render, context);
  } catch (error) {
    // Eta's debug mode wraps runtime errors with the template excerpt; the cause is ours.
    const cause = error instanceof Error ? error.cause : undefined;
    if (cause instanceof TemplateRenderError) throw cause;
    if (error instanceof TemplateRenderError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    const line = lineOf(message) ?? /^line (\d+)/.exec(message)?.[1];
    const last = message.split('\n').filter((part) => part.trim() !== '').pop() ?? message;
    throw new TemplateRenderError(`${last}${line === undefined ? '' : ` (line ${line})`}`);
  }
}
