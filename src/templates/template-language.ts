import { Eta, EtaParseError } from 'eta';

/**
 * The message template language: Eta's tag syntax, but never Eta's compiler. A template is split
 * into text and tags by Eta's own parser (so whitespace control and `autoTrim` behave exactly as
 * they did when templates were compiled), then every tag is read by the small grammar below and
 * the template is rendered from that parsed form. No template text ever becomes JavaScript: a tag
 * that is not one of these forms is refused, with its line.
 *
 * ```
 * <%= PATH %>                     print a value (missing, empty or unprintable: an error)
 * <%= PATH || "literal" %>        print a value, or the literal when the value is falsy
 * <%= PATH ?? "literal" %>        print a value, or the literal when it is null or undefined
 * <% if (PATH) { %>               conditions on a value (optionally negated: `!PATH`),
 * <% } else if (!PATH) { %>       with else-if and else branches, closed by `<% } %>`
 * <% } else { %>
 * <% } %>
 * PATH := it.lead.(email|firstName|lastName|company) | it.lead.custom.NAME | it.campaign.(name|slug)
 * ```
 */

/** Lead fields a template may use as `it.lead.<field>`; custom fields are `it.lead.custom.<name>`. */
export const leadFields = ['email', 'firstName', 'lastName', 'company'] as const;
/** Campaign fields a template may use as `it.campaign.<field>`. */
export const campaignFields = ['name', 'slug'] as const;

export type LeadField = (typeof leadFields)[number];
export type CampaignField = (typeof campaignFields)[number];

/** The values a template renders from. */
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

/** The largest template text accepted (UTF-8 bytes). */
export const MAX_TEMPLATE_BYTES = 64 * 1024;

/** One declared variable a template reads. */
export type ValuePath =
  | { root: 'lead'; field: LeadField }
  | { root: 'lead'; custom: string }
  | { root: 'campaign'; field: CampaignField };

interface Condition {
  path: ValuePath;
  negated: boolean;
}

type TemplateNode =
  | { kind: 'text'; text: string }
  | { kind: 'value'; path: ValuePath; source: string; line: number; fallback: { operator: '||' | '??'; text: string } | null }
  | { kind: 'if'; branches: Array<{ condition: Condition; body: TemplateNode[] }>; otherwise: TemplateNode[] | null };

/** A template that passed the grammar, ready to render as often as needed. */
export interface ParsedTemplate {
  readonly nodes: readonly TemplateNode[];
  /** The custom fields it reads, each with the line it is first read on, for save-time checks. */
  readonly customFields: ReadonlyMap<string, number>;
}

/** One reason a template is refused, with its 1-based line when known. */
export interface TemplateIssue {
  line: number | undefined;
  message: string;
}

/** A template that does not parse under the grammar; `line` is 1-based when known. */
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

/** The renderer's configuration of Eta, used only for its parser (never `compile`). */
const splitter = new Eta({ debug: true, useWith: false, rmWhitespace: false });

type EtaNode = string | { t: string; val: string; lineNo?: number };

/** Undoes the JavaScript string escaping Eta's parser applies to text nodes. */
function unescapeText(text: string): string {
  return text.replace(/\\(.)/gs, (_, char: string) => (char === 'n' ? '\n' : char));
}

type Token =
  | { type: 'name'; value: string; offset: number }
  | { type: 'string'; value: string; offset: number }
  | { type: 'punct'; value: string; offset: number };

const stringEscapes: Record<string, string> = { n: '\n', t: '\t', '\\': '\\', "'": "'", '"': '"' };

/** Splits a tag's value into names, string literals and punctuation; anything else is refused. */
function tokenize(code: string): Token[] | string {
  const tokens: Token[] = [];
  let index = 0;
  while (index < code.length) {
    const char = code[index] ?? '';
    if (/\s/.test(char)) {
      index += 1;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(code.slice(index));
    if (name !== null) {
      tokens.push({ type: 'name', value: name[0], offset: index });
      index += name[0].length;
      continue;
    }
    if (char === '"' || char === "'") {
      let value = '';
      let cursor = index + 1;
      for (;;) {
        const next = code[cursor];
        if (next === undefined || next === '\n') return 'a string literal is not closed';
        if (next === char) break;
        if (next === '\\') {
          const escaped = stringEscapes[code[cursor + 1] ?? ''];
          if (escaped === undefined) return `unsupported escape \\${code[cursor + 1] ?? ''} in a string literal (use \\n, \\t, \\\\, \\' or \\")`;
          value += escaped;
          cursor += 2;
        } else {
          value += next;
          cursor += 1;
        }
      }
      tokens.push({ type: 'string', value, offset: index });
      index = cursor + 1;
      continue;
    }
    const punct = ['||', '??', '.', '(', ')', '{', '}', '!', '[', ']'].find((candidate) => code.startsWith(candidate, index));
    if (punct === undefined) return `"${char}" is not allowed in a template tag`;
    tokens.push({ type: 'punct', value: punct, offset: index });
    index += punct.length;
  }
  return tokens;
}

/** Reads tokens one at a time; every `expect…` either consumes what it names or fails with a sentence. */
class TokenReader {
  private position = 0;
  constructor(private readonly tokens: Token[]) {}

  peek(offset = 0): Token | undefined {
    return this.tokens[this.position + offset];
  }

  take(): Token | undefined {
    const token = this.tokens[this.position];
    this.position += 1;
    return token;
  }

  accept(type: Token['type'], value?: string): boolean {
    const token = this.peek();
    if (token?.type !== type || (value !== undefined && token.value !== value)) return false;
    this.position += 1;
    return true;
  }

  atEnd(): boolean {
    return this.position >= this.tokens.length;
  }
}

const customFieldName = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Reads `it.lead.x`, `it.lead.custom.x` or `it.campaign.x`; returns the path or a sentence. */
function readPath(reader: TokenReader): { path: ValuePath; shown: string } | string {
  const first = reader.take();
  if (first === undefined) return 'a tag needs a variable such as it.lead.firstName';
  if (first.type !== 'name') return `expected a variable such as it.lead.firstName, found "${first.value}"`;
  if (first.value !== 'it') return `"${first.value}" is not allowed in a template: tags may only use it.lead.<field> and it.campaign.<field>`;
  const segments: string[] = [];
  while (reader.accept('punct', '.')) {
    const segment = reader.take();
    if (segment?.type !== 'name') return `unknown variable ${['it', ...segments].join('.')}.… (a field name must follow the dot)`;
    segments.push(segment.value);
  }
  const shown = ['it', ...segments].join('.');
  const computed = reader.peek()?.value === '[' ? '[…]' : '';
  const [root, field, custom, ...rest] = segments;
  if (root === 'lead') {
    if (field === 'custom') {
      if (custom === undefined) return `${shown}: name the custom field (it.lead.custom.<name>)`;
      if (rest.length > 0 || !customFieldName.test(custom)) return `unknown variable ${shown} (a custom field is it.lead.custom.<name>)`;
      return { path: { root: 'lead', custom }, shown };
    }
    if (field === undefined || custom !== undefined || !(leadFields as readonly string[]).includes(field)) {
      return `unknown variable ${shown}${computed} (lead fields: ${leadFields.join(', ')}, custom.<name>)`;
    }
    return { path: { root: 'lead', field: field as LeadField }, shown };
  }
  if (root === 'campaign') {
    if (field === undefined || custom !== undefined || !(campaignFields as readonly string[]).includes(field)) {
      return `unknown variable ${shown}${computed} (campaign fields: ${campaignFields.join(', ')})`;
    }
    return { path: { root: 'campaign', field: field as CampaignField }, shown };
  }
  return `unknown variable ${shown}${computed} (use it.lead.<field> or it.campaign.<field>)`;
}

function describeLeftover(reader: TokenReader, what: string): string {
  const token = reader.peek();
  return token === undefined ? `${what} is incomplete` : `unexpected "${token.value}" in ${what}`;
}

/** `PATH [|| "literal" | ?? "literal"]` */
function readInterpolation(code: string): Omit<Extract<TemplateNode, { kind: 'value' }>, 'line' | 'source'> | string {
  const tokens = tokenize(code);
  if (typeof tokens === 'string') return tokens;
  if (tokens.length === 0) return 'an empty <%= %> tag prints nothing; remove it or name a variable';
  const reader = new TokenReader(tokens);
  const path = readPath(reader);
  if (typeof path === 'string') return path;
  let fallback: { operator: '||' | '??'; text: string } | null = null;
  const operator = reader.peek();
  if (operator?.type === 'punct' && (operator.value === '||' || operator.value === '??')) {
    reader.take();
    const literal = reader.take();
    if (literal?.type !== 'string') return `a fallback after ${operator.value} must be a quoted literal, such as "there"`;
    fallback = { operator: operator.value, text: literal.value };
  }
  if (!reader.atEnd()) return describeLeftover(reader, `the tag printing ${path.shown}`);
  return { kind: 'value', path: path.path, fallback };
}

type Control = { kind: 'if'; condition: Condition } | { kind: 'else-if'; condition: Condition } | { kind: 'else' } | { kind: 'end' };

function readCondition(reader: TokenReader): Condition | string {
  if (!reader.accept('punct', '(')) return 'a condition is written if (it.lead.<field>) {';
  const negated = reader.accept('punct', '!');
  const path = readPath(reader);
  if (typeof path === 'string') return path;
  if (!reader.accept('punct', ')')) return describeLeftover(reader, `the condition on ${path.shown}`);
  if (!reader.accept('punct', '{')) return 'a condition must open a block with {';
  return { path: path.path, negated };
}

/** `if (C) {` | `} else if (C) {` | `} else {` | `}` — nothing else may stand in a `<% %>` tag. */
function readControl(code: string): Control | string {
  const tokens = tokenize(code);
  if (typeof tokens === 'string') return tokens;
  const reader = new TokenReader(tokens);
  const allowed = '<% %> tags may only hold if (…) {, } else if (…) {, } else { and }';
  let control: Control;
  if (reader.accept('name', 'if')) {
    const condition = readCondition(reader);
    if (typeof condition === 'string') return condition;
    control = { kind: 'if', condition };
  } else if (reader.accept('punct', '}')) {
    if (reader.accept('name', 'else')) {
      if (reader.accept('name', 'if')) {
        const condition = readCondition(reader);
        if (typeof condition === 'string') return condition;
        control = { kind: 'else-if', condition };
      } else if (reader.accept('punct', '{')) control = { kind: 'else' };
      else return describeLeftover(reader, 'an else');
    } else control = { kind: 'end' };
  } else {
    const first = reader.peek();
    if (first?.type === 'name' && first.value !== 'it' && first.value !== 'else') return `"${first.value}" is not allowed in a template: ${allowed}`;
    return allowed;
  }
  if (!reader.atEnd()) return describeLeftover(reader, 'a condition tag');
  return control;
}

interface OpenBlock {
  node: Extract<TemplateNode, { kind: 'if' }>;
  line: number;
  /** Where the nodes of the branch being read go. */
  body: TemplateNode[];
}

type ParseFailure = { ok: false; issues: TemplateIssue[]; customFields: ReadonlyMap<string, number> };

/** The Eta nodes of a template, or why it cannot be split into them (too large, unbalanced tags). */
function splitTemplate(text: string): EtaNode[] | ParseFailure {
  if (Buffer.byteLength(text, 'utf8') > MAX_TEMPLATE_BYTES) {
    return { ok: false, issues: [{ line: undefined, message: `the template is larger than ${MAX_TEMPLATE_BYTES / 1024} KB` }], customFields: new Map() };
  }
  try {
    return splitter.parse(text) as EtaNode[];
  } catch (error) {
    if (!(error instanceof EtaParseError)) throw error;
    const firstLine = error.message.split('\n').find((line) => line.trim() !== '') ?? error.message;
    const line = /at line (\d+)/.exec(error.message)?.[1];
    return { ok: false, issues: [{ line: line === undefined ? undefined : Number(line), message: firstLine.replace(/:$/, '').trim() }], customFields: new Map() };
  }
}

/** What the parser has read so far: the nodes, the conditions still open, the custom fields used, the problems. */
interface ParseState {
  root: TemplateNode[];
  open: OpenBlock[];
  customFields: Map<string, number>;
  issues: TemplateIssue[];
}

/** Where the next node goes: the innermost open branch, else the top level. */
function targetOf(state: ParseState): TemplateNode[] {
  return state.open[state.open.length - 1]?.body ?? state.root;
}

function noteCustom(state: ParseState, path: ValuePath, line: number): void {
  if ('custom' in path && !state.customFields.has(path.custom)) state.customFields.set(path.custom, line);
}

/** Applies one control tag (`if`, `else if`, `else`, the closing brace) to the open conditions. */
function applyControl(state: ParseState, control: Exclude<ReturnType<typeof readControl>, string>, source: string, line: number): void {
  const refuse = (message: string) => state.issues.push({ line, message });
  const current = state.open[state.open.length - 1];
  if (control.kind === 'if') {
    noteCustom(state, control.condition.path, line);
    const block: OpenBlock = { node: { kind: 'if', branches: [], otherwise: null }, line, body: [] };
    block.node.branches.push({ condition: control.condition, body: block.body });
    targetOf(state).push(block.node);
    state.open.push(block);
  } else if (current === undefined) {
    refuse(`"${source.trim()}" closes a condition that was never opened`);
  } else if (control.kind === 'else-if') {
    if (current.node.otherwise !== null) refuse('else if after else');
    noteCustom(state, control.condition.path, line);
    current.body = [];
    current.node.branches.push({ condition: control.condition, body: current.body });
  } else if (control.kind === 'else') {
    if (current.node.otherwise !== null) refuse('a second else');
    current.body = [];
    current.node.otherwise = current.body;
  } else state.open.pop();
}

/** Reads one Eta tag: text, an interpolation or a control tag; anything else is refused. */
function readNode(state: ParseState, node: Exclude<EtaNode, string>): void {
  const line = node.lineNo ?? 1;
  const refuse = (message: string) => state.issues.push({ line, message });
  if (node.t === 'r') {
    refuse(`raw output <%~ ${node.val.trim()} %> is not allowed; use <%= %>`);
    return;
  }
  if (node.t === 'i') {
    const value = readInterpolation(node.val);
    if (typeof value === 'string') refuse(value);
    else {
      noteCustom(state, value.path, line);
      targetOf(state).push({ ...value, source: node.val.trim(), line });
    }
    return;
  }
  if (node.t !== 'e') {
    refuse('unknown tag');
    return;
  }
  const control = readControl(node.val);
  if (typeof control === 'string') refuse(control);
  else applyControl(state, control, node.val, line);
}

/**
 * Parses a template under the grammar. Returns every problem found (each tag is checked), or the
 * parsed form when there is none.
 */
export function parseTemplate(text: string): { ok: true; template: ParsedTemplate } | ParseFailure {
  const etaNodes = splitTemplate(text);
  if (!Array.isArray(etaNodes)) return etaNodes;
  const state: ParseState = { root: [], open: [], customFields: new Map(), issues: [] };
  for (const node of etaNodes) {
    if (typeof node === 'string') targetOf(state).push({ kind: 'text', text: unescapeText(node) });
    else readNode(state, node);
  }
  for (const block of state.open) state.issues.push({ line: block.line, message: 'a condition opened here is never closed with <% } %>' });
  if (state.issues.length > 0) return { ok: false, issues: state.issues, customFields: state.customFields };
  return { ok: true, template: { nodes: state.root, customFields: state.customFields } };
}

function valueOf(path: ValuePath, context: RenderContext): unknown {
  if (path.root === 'campaign') return context.campaign[path.field];
  if ('custom' in path) return Object.hasOwn(context.lead.custom, path.custom) ? context.lead.custom[path.custom] : undefined;
  return context.lead[path.field];
}

function printable(value: unknown, where: string): string {
  if (value === undefined || value === null) throw new TemplateRenderError(`missing value for ${where}`);
  if (typeof value === 'number' && !Number.isFinite(value)) throw new TemplateRenderError(`${where} is not a finite number`);
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean' && typeof value !== 'bigint') {
    throw new TemplateRenderError(`${where} is not printable text`);
  }
  const text = String(value);
  if (text.trim() === '') throw new TemplateRenderError(`missing value for ${where} (empty)`);
  return text;
}

function renderNodes(nodes: readonly TemplateNode[], context: RenderContext, escape: (value: string) => string, out: string[]): void {
  for (const node of nodes) {
    if (node.kind === 'text') out.push(node.text);
    else if (node.kind === 'value') {
      let value = valueOf(node.path, context);
      const fallback = node.fallback;
      if (fallback !== null && (fallback.operator === '||' ? !value : value === null || value === undefined)) value = fallback.text;
      out.push(escape(printable(value, `${node.source} (line ${node.line})`)));
    } else {
      const branch = node.branches.find(({ condition }) => Boolean(valueOf(condition.path, context)) !== condition.negated);
      const body = branch?.body ?? node.otherwise;
      if (body !== null) renderNodes(body, context, escape, out);
    }
  }
}

/**
 * Renders a parsed template. Every printed value passes through `escape` once (HTML escaping for
 * HTML bodies; the identity for text); template text is copied as written.
 * @throws TemplateRenderError naming the expression and line of a missing or unprintable value.
 */
export function renderParsedTemplate(template: ParsedTemplate, context: RenderContext, escape: (value: string) => string): string {
  const out: string[] = [];
  renderNodes(template.nodes, context, escape, out);
  return out.join('');
}
