/**
 * The attack corpora of the security tests and of the security probe
 * (`npm run probe:security`), kept in one place so that the probe replays exactly what the
 * tests prove refused.
 */

/**
 * Template-escape payloads, by class: each would write `canaryFile`, set `canaryGlobal` on
 * globalThis, or read the process's secrets if any part of it ran as JavaScript.
 */
export function templateEscapePayloads(canaryFile: string, canaryGlobal: string): Array<[kind: string, payload: string]> {
  const write = `require('fs').writeFileSync(${JSON.stringify(canaryFile)}, 'ran')`;
  return [
    ['constructor chain', `Hi <%= ''.constructor.constructor("globalThis.${canaryGlobal}=1; return process")().mainModule.${write} %>`],
    ['function constructor via a field', `<%= it.lead.firstName.constructor.constructor("globalThis.${canaryGlobal}=1")() %>`],
    ['computed member access', `<%= it.lead.firstName['constructor']['constructor']("globalThis.${canaryGlobal}=1")() %>`],
    ['unicode escape of a name', `<%= \\u0070rocess.mainModule.${write} %>`],
    ['template literal', '<%= `${globalThis.' + canaryGlobal + '=1}` %>'],
    ['block comment hiding code', `<%= it.lead.firstName /* */ + (globalThis.${canaryGlobal}=1) %>`],
    ['line comment', `<%= it.lead.firstName // %>\n<%= (globalThis.${canaryGlobal}=1) %>`],
    ['exec tag statement', `<% globalThis.${canaryGlobal} = 1 %>`],
    ['exec tag with whitespace control', `<%_ process.mainModule.${write} _%>`],
    ['raw output', `<%~ (globalThis.${canaryGlobal}=1) %>`],
    ['closing a block early', `<% if (it.lead.company) { } globalThis.${canaryGlobal} = 1; if (true) { %>x<% } %>`],
    ['code in a condition', `<% if (globalThis.${canaryGlobal} = 1) { %>x<% } %>`],
    ['fallback that is code', `<%= it.lead.firstName || (globalThis.${canaryGlobal}=1) %>`],
    ['arrow function', `<%= (() => globalThis.${canaryGlobal} = 1)() %>`],
    ['Eta internals', `<%= __eta.res = process.env.SESSION_SECRET %>`],
    ['include of a file', `<%~ include('/etc/passwd') %>`],
    ['this', `<%= this.constructor.constructor("globalThis.${canaryGlobal}=1")() %>`],
    ['prototype of the data', `<%= it.lead.__proto__.constructor.constructor("globalThis.${canaryGlobal}=1")() %>`],
    ['process secrets', '<%= process.env.DATABASE_URL %>'],
    ['require', `<%= require('child_process').execSync('touch ${canaryFile}') %>`],
    ['import()', `<%= import('fs').then((fs) => fs.writeFileSync(${JSON.stringify(canaryFile)}, 'ran')) %>`],
    ['hex escape in a literal', `<%= it.lead.firstName || "\\x70" %>`],
    ['fullwidth letters', '<%= ｐrocess.env %>'],
    ['zero-width joiner', '<%= it.lead.first\u200dName %>'],
    ['a tag spanning lines', `<%=\nit.lead.firstName\n+ (globalThis.${canaryGlobal}=1)\n%>`],
    ['too large', `${'x'.repeat(70 * 1024)}<%= it.lead.firstName %>`],
  ];
}

/** Text Postgres cannot hold, in every form it reaches us. */
export const badTexts = ['a\u0000b', 'x\ud800y', '\udc00', '\u0000\udfff', 'ok\u0000'];

/** Ids outside what a route can name: beyond int4, beyond 2^53 − 1, negative, fractional, words, escapes. */
export const badIds = ['2147483648', '9007199254740992', '99999999999999999999', '-1', '0', '1.5', '1e3', 'abc', '%00', '%F0%9F', '%20%31', 'Infinity', 'NaN'];

/** Field names the routes read, each set to bad text in one body. */
export const fieldNames = ['name', 'slug', 'email', 'target', 'reason', 'note', 'body', 'subject', 'channel', 'kind', 'lead', 'format', 'expires', 'operator', 'password', 'role', 'file', 'firstName', 'company'];

/** Step delays that are not finite, or longer than a year: a field error, never stored. */
export const unboundedDelays = ['9'.repeat(400) + 'w', '99999999999999999999w', '366d', 'Infinity'];

/**
 * Percent-encodes text as a client can put it in a URL, lone surrogates included (as the
 * three bytes UTF-8 would give them, which no decoder accepts), where encodeURIComponent throws.
 */
export function percentEncode(text: string): string {
  return [...text]
    .map((char) => {
      const unit = char.charCodeAt(0);
      if (char.length === 1 && unit >= 0xd800 && unit <= 0xdfff) {
        return [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)].map((byte) => `%${byte.toString(16).toUpperCase()}`).join('');
      }
      return encodeURIComponent(char);
    })
    .join('');
}

/** JSON bodies carrying `text`: alone, in every field name, in an array, in nested values, as a key. */
export function bodiesFor(text: string): unknown[] {
  const object = Object.fromEntries(fieldNames.map((name) => [name, text]));
  return [text, object, [object], { ...object, campaignId: 1, ids: [1], custom: { [text]: text } }, { [text]: 1 }];
}
