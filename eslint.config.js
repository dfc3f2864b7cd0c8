import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Tests may not hold a fixed date: BullMQ computes delays against the real clock and Postgres
 * has its own now(), so a test pinned to a date expires when that date passes. Dates come from
 * the anchored clocks of test/support/clock.ts.
 */
const anchorHint = 'derive it from an anchored clock (test/support/clock.ts: clockNow, clockOnNext, clock.at)';
const dateLiterals = [
  { selector: 'Literal[value=/^\\d{4}-\\d{2}-\\d{2}/]', message: `no fixed dates in tests; ${anchorHint}` },
  { selector: 'TemplateElement[value.raw=/\\d{4}-\\d{2}-\\d{2}T/]', message: `no fixed dates in tests; ${anchorHint}` },
  { selector: "NewExpression[callee.name='Date'] > Literal", message: `no fixed dates in tests; ${anchorHint}` },
];
const fixedDates = [
  ...dateLiterals,
  { selector: "CallExpression[callee.object.name='Date'][callee.property.name='UTC']", message: `no fixed dates in tests; ${anchorHint}` },
  { selector: "NewExpression[callee.name='Date'][arguments.length>1]", message: `no fixed dates in tests; ${anchorHint}` },
];
const manualClocks = {
  selector: "NewExpression[callee.name='ManualClock']",
  message: 'make manual clocks with test/support/clock.ts (clockNow, clockOnNext), anchored on the real now',
};

/**
 * `max-own-lines`: no function longer than `max` lines of its own code. Unlike ESLint's
 * `max-lines-per-function`, the lines of functions nested inside (the methods a service factory
 * returns, the handlers a router registers) count for those functions, not for the one around
 * them, so a factory of short methods passes and a long method does not. Blank and comment-only
 * lines do not count.
 */
const functionNodes = ['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression'];

/** @type {import('eslint').Rule.RuleModule} */
const maxOwnLines = {
  meta: {
    type: 'suggestion',
    docs: { description: 'limit the lines of code a function holds itself (nested functions count for themselves)' },
    schema: [{ type: 'object', properties: { max: { type: 'integer', minimum: 1 } }, additionalProperties: false }],
    messages: { tooLong: '{{name}} has {{lines}} lines of its own code; at most {{max}}: split it into named steps' },
  },
  create(context) {
    const max = context.options[0]?.max ?? 60;
    const source = context.sourceCode;
    const commentLines = new Set();
    for (const comment of source.getAllComments()) {
      for (let line = comment.loc.start.line; line <= comment.loc.end.line; line += 1) commentLines.add(line);
    }
    const codeLine = (line) => {
      const text = source.lines[line - 1] ?? '';
      if (text.trim() === '') return false;
      // A line that only holds (part of) a comment is not code.
      return !(commentLines.has(line) && /^\s*(\/\/|\/\*|\*)/.test(text));
    };
    const stack = [];
    const enter = () => stack.push(new Set());
    const exit = (node) => {
      const nested = stack.pop();
      const own = [];
      for (let line = node.loc.start.line; line <= node.loc.end.line; line += 1) {
        if (!nested.has(line) && codeLine(line)) own.push(line);
      }
      const outer = stack[stack.length - 1];
      if (outer !== undefined) {
        // The first and last lines stay the outer function's too (`foo(() => {` and `});`).
        for (let line = node.loc.start.line + 1; line < node.loc.end.line; line += 1) outer.add(line);
      }
      if (own.length > max) {
        const name = node.id?.name ?? (node.parent?.type === 'MethodDefinition' || node.parent?.type === 'Property' ? source.getText(node.parent.key) : 'function');
        context.report({ node, messageId: 'tooLong', data: { name, lines: String(own.length), max: String(max) } });
      }
    };
    return Object.fromEntries(functionNodes.flatMap((type) => [[type, enter], [`${type}:exit`, exit]]));
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'src/cli/bin.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // Knex query results are asserted to their row types at the store boundary; this rule's
      // "type arguments may be inferred from the assertion" check flags every such query.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
    },
  },
  {
    // No function over 60 lines of its own code; declarative tables are data, not functions.
    files: ['src/**/*.ts', 'queues/**/*.ts', 'processors/**/*.ts'],
    plugins: { drumbeat: { rules: { 'max-own-lines': maxOwnLines } } },
    rules: { 'drumbeat/max-own-lines': ['error', { max: 60 }] },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-expressions': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      'no-restricted-syntax': ['error', ...fixedDates, manualClocks],
    },
  },
  {
    // The one place that makes manual clocks, each anchored on the real now.
    files: ['test/support/clock.ts'],
    rules: { 'no-restricted-syntax': ['error', ...dateLiterals] },
  },
  { files: ['eslint.config.js', 'ecosystem.config.js', '.dependency-cruiser.cjs'], extends: [tseslint.configs.disableTypeChecked] },
  { files: ['.dependency-cruiser.cjs'], languageOptions: { sourceType: 'commonjs', globals: { module: 'writable' } } },
  {
    // The console's one browser script, served as is (no build step).
    files: ['src/http/admin/static/**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { sourceType: 'script', globals: { document: 'readonly', HTMLElement: 'readonly', fetch: 'readonly', setTimeout: 'readonly', FormData: 'readonly', File: 'readonly' } },
  },
);
