import { Eta } from 'eta';
import { DomainError } from '../errors/domain-error.js';
import { compileTemplate, TemplateSyntaxError, type TemplateFormat } from './render.js';

/** Lead fields a template may use as `it.lead.<field>`; custom fields are `it.lead.custom.<name>`. */
export const leadFields = ['email', 'firstName', 'lastName', 'company'] as const;
/** Campaign fields a template may use as `it.campaign.<field>`. */
export const campaignFields = ['name', 'slug'] as const;

/** Names that would reach outside the template's data (secrets, the process, the engine). */
const forbiddenNames = /(?<![\w$.])(process|require|import|globalThis|global|eval|Function|constructor|prototype|__proto__|this|__eta|include|includeAsync|layout)(?![\w$])/;

/** One problem in a template, with its 1-based line. */
export interface TemplateProblem {
  part: 'subject' | 'body';
  line: number | undefined;
  message: string;
}

/** A template failed save-time validation; the message lists every problem with its line. */
export class TemplateValidationError extends DomainError {
  constructor(readonly problems: TemplateProblem[]) {
    super(
      problems.map((problem) => `${problem.part}${problem.line === undefined ? '' : ` line ${problem.line}`}: ${problem.message}`).join('; '),
      'invalid',
      problems.map((problem) => ({ path: problem.part, message: `${problem.line === undefined ? '' : `line ${problem.line}: `}${problem.message}` })),
    );
  }
}

const parser = new Eta({ debug: true, autoTrim: false });

/** Blanks string literals (keeping line breaks) so that text inside quotes is not read as code. */
function blankStrings(code: string): string {
  return code.replace(/'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|`(?:\\[\s\S]|[^`\\])*`/g, (literal) => literal.replace(/[^\n]/g, ' '));
}

function checkReferences(code: string, firstLine: number, customFields: ReadonlySet<string>, part: TemplateProblem['part']): TemplateProblem[] {
  const problems: TemplateProblem[] = [];
  const text = blankStrings(code);
  const lineAt = (index: number) => firstLine + (text.slice(0, index).match(/\n/g)?.length ?? 0);
  const forbidden = forbiddenNames.exec(text);
  if (forbidden !== null) problems.push({ part, line: lineAt(forbidden.index), message: `"${forbidden[1]}" is not allowed in a template` });
  const reference = /(?<![\w$.])it(?![\w$])((?:\s*\.\s*[A-Za-z_$][\w$]*)*)(\s*\[)?/g;
  for (let match = reference.exec(text); match !== null; match = reference.exec(text)) {
    const path = (match[1] ?? '').split('.').map((segment) => segment.trim()).filter((segment) => segment !== '');
    const line = lineAt(match.index);
    const shown = ['it', ...path].join('.');
    const [root, field, custom] = path;
    const computed = match[2] !== undefined;
    if (root === 'lead') {
      if (field === 'custom') {
        if (custom === undefined) problems.push({ part, line, message: `${shown}${computed ? '[…]' : ''}: name the custom field (it.lead.custom.<name>)` });
        else if (!customFields.has(custom)) {
          problems.push({
            part,
            line,
            message: `unknown variable it.lead.custom.${custom} (declared custom fields: ${customFields.size === 0 ? 'none' : [...customFields].join(', ')})`,
          });
        }
      } else if (field === undefined || !(leadFields as readonly string[]).includes(field)) {
        problems.push({ part, line, message: `unknown variable ${shown}${computed ? '[…]' : ''} (lead fields: ${leadFields.join(', ')}, custom.<name>)` });
      }
    } else if (root === 'campaign') {
      if (field === undefined || !(campaignFields as readonly string[]).includes(field)) {
        problems.push({ part, line, message: `unknown variable ${shown}${computed ? '[…]' : ''} (campaign fields: ${campaignFields.join(', ')})` });
      }
    } else {
      problems.push({ part, line, message: `unknown variable ${shown}${computed ? '[…]' : ''} (use it.lead.<field> or it.campaign.<field>)` });
    }
  }
  return problems;
}

/** The problems of one template text: compile errors, unknown variables, forbidden names. */
export function templateProblems(
  template: string,
  options: { customFields?: readonly string[]; format?: TemplateFormat; part?: TemplateProblem['part'] } = {},
): TemplateProblem[] {
  const part = options.part ?? 'body';
  try {
    compileTemplate(template, options.format ?? 'text');
  } catch (error) {
    if (error instanceof TemplateSyntaxError) return [{ part, line: error.line, message: error.message }];
    throw error;
  }
  const customFields = new Set(options.customFields ?? []);
  const problems: TemplateProblem[] = [];
  for (const node of parser.parse(template)) {
    if (typeof node === 'string') continue;
    problems.push(...checkReferences(node.val, node.lineNo ?? 1, customFields, part));
  }
  return problems;
}

/**
 * Save-time validation of a subject and body: both compile, and every variable they use is a
 * known lead or campaign field or a declared custom field.
 * @throws TemplateValidationError naming each variable and line at fault.
 */
export function validateTemplate(parts: { subject?: string | null; body: string; format: TemplateFormat; customFields?: readonly string[] }): void {
  const problems = [
    ...(parts.subject === undefined || parts.subject === null
      ? []
      : templateProblems(parts.subject, { customFields: parts.customFields, format: 'text', part: 'subject' })),
    ...templateProblems(parts.body, { customFields: parts.customFields, format: parts.format, part: 'body' }),
  ];
  if (problems.length > 0) throw new TemplateValidationError(problems);
}
