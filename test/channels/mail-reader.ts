import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { convert } from 'html-to-text';
import type { ParsedMail } from 'mailparser';
import type { NewLead } from '../../src/leads/lead-store.js';

/**
 * What a mail client shows of a received email, for assertions made where the recipient looks:
 * the decoded subject, the text part, and the visible text of the HTML part (html-to-text, as a
 * client without HTML would show it).
 */
export function visibleText(mail: ParsedMail): string {
  return typeof mail.html === 'string' ? convert(mail.html, { wordwrap: false }) : '';
}

/** Any HTML character reference: what a text part must never contain. */
export const htmlEntity = /&(?:[a-z]+|#\d+|#x[0-9a-f]+);/i;

/** A character reference escaped a second time (`&amp;#39;`, `&amp;amp;`). */
export const escapedTwice = /&amp;(?:[a-z]+|#\d+|#x[0-9a-f]+);/i;

const escapes: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '(?:&quot;|&#34;|&#x22;)',
  "'": '(?:&#39;|&#x27;|&apos;)',
};

/** Matches `value` in HTML source with each of `& < > " '` written as one character reference. */
export function escapedOnce(value: string): RegExp {
  return new RegExp(
    [...value].map((char) => escapes[char] ?? char.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join(''),
    'u',
  );
}

/** The `References` of a parsed mail as a list (mailparser gives a string for one id). */
export function referencesOf(mail: ParsedMail): string[] {
  return mail.references === undefined ? [] : Array.isArray(mail.references) ? mail.references : [mail.references];
}

/** The decoded `To` address of a parsed mail. */
export function recipientOf(mail: ParsedMail): string | undefined {
  const to = Array.isArray(mail.to) ? mail.to[0] : mail.to;
  return to?.value[0]?.address;
}

/** The leads of test/fixtures/leads-real-names.csv: names as people write them. */
export function realNameLeads(): Array<NewLead & { email: string; firstName: string; lastName: string; company: string }> {
  const rows = parse(readFileSync(new URL('../fixtures/leads-real-names.csv', import.meta.url)), { columns: true, skip_empty_lines: true }) as Array<
    Record<'email' | 'first_name' | 'last_name' | 'company' | 'timezone', string>
  >;
  return rows.map((row) => ({ email: row.email, firstName: row.first_name, lastName: row.last_name, company: row.company, timezone: row.timezone }));
}
