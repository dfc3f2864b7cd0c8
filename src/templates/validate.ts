import { DomainError } from '../core/domain-error.js';
import { parsedTemplate } from './render.js';

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

/**
 * The problems of one template text: every tag the template language refuses (anything but a
 * declared variable, a literal fallback or a condition), with its line, and every custom field
 * it reads that is not declared.
 */
export function templateProblems(template: string, options: { customFields?: readonly string[]; part?: TemplateProblem['part'] } = {}): TemplateProblem[] {
  const part = options.part ?? 'body';
  const parsed = parsedTemplate(template);
  const declared = new Set(options.customFields ?? []);
  const problems: TemplateProblem[] = parsed.ok ? [] : parsed.issues.map((issue) => ({ part, ...issue }));
  const read = parsed.ok ? parsed.template.customFields : parsed.customFields;
  for (const [name, line] of read) {
    if (!declared.has(name)) {
      problems.push({ part, line, message: `unknown variable it.lead.custom.${name} (declared custom fields: ${declared.size === 0 ? 'none' : [...declared].join(', ')})` });
    }
  }
  return problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}

/**
 * Save-time validation of a subject and body: both pass the template language, and every custom
 * field they read is declared.
 * @throws TemplateValidationError naming each problem and its line.
 */
export function validateTemplate(parts: { subject?: string | null; body: string; customFields?: readonly string[] }): void {
  const problems = [
    ...(parts.subject === undefined || parts.subject === null ? [] : templateProblems(parts.subject, { customFields: parts.customFields, part: 'subject' })),
    ...templateProblems(parts.body, { customFields: parts.customFields, part: 'body' }),
  ];
  if (problems.length > 0) throw new TemplateValidationError(problems);
}
