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
  { files: ['eslint.config.js', 'ecosystem.config.js'], extends: [tseslint.configs.disableTypeChecked] },
  {
    // The console's one browser script, served as is (no build step).
    files: ['src/http/admin/static/**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { sourceType: 'script', globals: { document: 'readonly', HTMLElement: 'readonly', fetch: 'readonly', setTimeout: 'readonly', FormData: 'readonly', File: 'readonly' } },
  },
);
