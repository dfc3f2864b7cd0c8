import { domainToASCII } from 'node:url';

/**
 * Whether a (normalised) address is deliverable-looking: one `@`, a local part without spaces,
 * controls or the characters RFC 5322 reserves, and a domain that converts to a valid ASCII
 * host name with a dot. Non-ASCII local parts and internationalised domains (RFC 6531) pass:
 * they are real addresses, and nodemailer sends them with SMTPUTF8 or punycode.
 */
export function isEmailAddress(address: string): boolean {
  if (address.length > 320) return false;
  const at = address.lastIndexOf('@');
  if (at <= 0 || at !== address.indexOf('@')) return false;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (local.length > 64 || /[\s\p{Cc}<>()[\]\\,;:"]/u.test(local)) return false;
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) return false;
  const ascii = domainToASCII(domain);
  if (ascii === '' || ascii.length > 253 || !ascii.includes('.')) return false;
  const labels = ascii.split('.');
  const tld = labels[labels.length - 1] ?? '';
  if (!/^([a-z]{2,63}|xn--[a-z0-9-]{1,59})$/.test(tld)) return false;
  return labels.every((label) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(label));
}
