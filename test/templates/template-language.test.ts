import { expect } from 'chai';
import { Eta } from 'eta';
import { parseTemplate, renderParsedTemplate, TemplateRenderError, MAX_TEMPLATE_BYTES, type RenderContext } from '../../src/templates/template-language.js';
import { parsedTemplate, templateCacheSize } from '../../src/templates/render.js';

const context: RenderContext = {
  lead: { email: 'sean@example.com', firstName: "Seán O'Brien", lastName: null, company: 'AT&T <Labs>', custom: { plan: 'Pro', empty: '' } },
  campaign: { name: 'Spring', slug: 'spring' },
};

function render(text: string, escape: (value: string) => string = (value) => value): string {
  const parsed = parseTemplate(text);
  if (!parsed.ok) throw new Error(parsed.issues.map((issue) => `line ${issue.line}: ${issue.message}`).join('; '));
  return renderParsedTemplate(parsed.template, context, escape);
}

function issuesOf(text: string): string[] {
  const parsed = parseTemplate(text);
  return parsed.ok ? [] : parsed.issues.map((issue) => `line ${issue.line ?? '?'}: ${issue.message}`);
}

/** How Eta compiled and rendered templates before: the reference for whitespace and text. */
const compiled = new Eta({ autoEscape: false, useWith: false, debug: true, cache: false });

describe('the template language: parsed, never compiled', () => {
  it('renders text exactly as Eta did, whitespace control and line endings included', () => {
    const corpus = [
      'Hi <%= it.lead.firstName %>,\n\nA line.',
      'Hi\r\n<%= it.lead.company %>\r\nbye\n',
      'Quotes \' " and a backslash \\ and `ticks` ${x} stay text',
      '<% if (it.lead.company) { %>\nfrom <%= it.lead.company %>\n<% } %>\nend',
      '<%- if (it.lead.company) { -%>\n  trimmed\n<%_ } _%>\n  end',
      'a <% if (!it.lead.lastName) { %>no last name<% } else { %><%= it.lead.lastName %><% } %> b',
      '<% if (it.lead.lastName) { %>L<% } else if (it.lead.custom.plan) { %><%= it.lead.custom.plan %><% } else { %>none<% } %>',
      '<%= it.campaign.name %>/<%= it.campaign.slug %>: <%= it.lead.email %>',
    ];
    for (const text of corpus) {
      expect(render(text), JSON.stringify(text)).to.equal(compiled.renderString(text, context));
    }
  });

  it('prints a fallback literal for a falsy value (||) or a missing one (??)', () => {
    expect(render('Hi <%= it.lead.lastName || "there" %>')).to.equal('Hi there');
    expect(render('Hi <%= it.lead.custom.empty || \'friend\' %>')).to.equal('Hi friend');
    expect(render('Hi <%= it.lead.lastName ?? "you" %>')).to.equal('Hi you');
    expect(render('Hi <%= it.lead.firstName || "there" %>')).to.equal("Hi Seán O'Brien");
  });

  it('passes every printed value through the escape once, and never the template text', () => {
    const html = (value: string) => value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&#39;');
    expect(render("<p>It's <%= it.lead.firstName %> at <%= it.lead.company %> & co</p>", html)).to.equal(
      "<p>It's Seán O&#39;Brien at AT&amp;T &lt;Labs&gt; & co</p>",
    );
  });

  it('a missing, empty or unprintable value is an error naming the expression and its line', () => {
    expect(() => render('Hi\n<%= it.lead.lastName %>')).to.throw(TemplateRenderError, 'missing value for it.lead.lastName (line 2)');
    expect(() => render('<%= it.lead.custom.empty %>')).to.throw(TemplateRenderError, 'empty');
    expect(() => render('<%= it.lead.custom.nothing %>')).to.throw(TemplateRenderError, 'missing value for it.lead.custom.nothing');
    const parsed = parseTemplate('<%= it.lead.custom.constructor %>');
    expect(parsed.ok).to.equal(true);
    if (parsed.ok) expect(() => renderParsedTemplate(parsed.template, context, (value) => value)).to.throw(TemplateRenderError, 'missing value');
  });

  it('refuses every tag that is not a declared variable, a literal fallback or a condition, with its line', () => {
    const refused: Array<[string, string]> = [
      ["<%= ''.constructor.constructor('return process')() %>", 'expected a variable'],
      ['<%= \\u0070rocess.env %>', 'not allowed'],
      ['<%= `${process.env.X}` %>', 'not allowed'],
      ['<%= it.lead.firstName /* */ %>', 'not allowed'],
      ["<%= it.lead.firstName['constructor'] %>", 'unexpected "["'],
      ['<%= it.lead["firstName"] %>', 'unknown variable it.lead[…]'],
      ['<%= process.env.DATABASE_URL %>', '"process" is not allowed'],
      ['<%= it.lead.firstName.constructor %>', 'unknown variable it.lead.firstName.constructor'],
      ['<%= it.lead.firstName + 1 %>', 'not allowed'],
      ['<%= it.lead.firstName || it.lead.company %>', 'quoted literal'],
      ['<%= it %>', 'unknown variable it '],
      ['<% while (true) { %>x<% } %>', '"while" is not allowed'],
      ['<% it.lead.firstName = "x" %>', 'not allowed'],
      ['<% it.lead.firstName %>', 'may only hold'],
      ['<% if (it.lead.company) { %>open', 'never closed'],
      ['<% } %>', 'never opened'],
      ['<% if (it.lead.company && process) { %>x<% } %>', 'not allowed'],
      ['<%~ it.lead.firstName %>', 'raw output'],
      ['<%= it.lead.firstName ', 'unclosed tag'],
      ['<%= "a\\u0041" %>', 'unsupported escape'],
    ];
    for (const [text, expected] of refused) {
      const issues = issuesOf(`Hello\n${text}`);
      expect(issues, text).to.have.length.greaterThan(0);
      expect(issues.join(' | '), text).to.include(expected);
      expect(issues[0], text).to.match(/^line 2: /);
    }
  });

  it('refuses a template larger than the limit before parsing it', () => {
    expect(issuesOf('x'.repeat(MAX_TEMPLATE_BYTES + 1))).to.deep.equal([`line ?: the template is larger than ${MAX_TEMPLATE_BYTES / 1024} KB`]);
  });

  it('lists the custom fields a template reads, with the line each is first read on', () => {
    const parsed = parseTemplate('<%= it.lead.custom.plan %>\n<% if (it.lead.custom.tier) { %>x<%= it.lead.custom.plan %><% } %>');
    expect(parsed.ok && [...parsed.template.customFields]).to.deep.equal([
      ['plan', 1],
      ['tier', 2],
    ]);
  });

  it('caches only accepted templates, bounded by their size in bytes, not by count', () => {
    const before = templateCacheSize();
    for (let index = 0; index < 40; index += 1) {
      // 900 KB each, refused (too large, and code): none of them may be kept.
      expect(parsedTemplate(`${index}${'x'.repeat(900 * 1024)}<%= process %>`).ok).to.equal(false);
    }
    expect(templateCacheSize()).to.deep.equal(before);
    for (let index = 0; index < 200; index += 1) expect(parsedTemplate(`${index}${'y'.repeat(60 * 1024)} <%= it.lead.firstName %>`).ok).to.equal(true);
    expect(templateCacheSize().chars, 'bounded in bytes').to.be.at.most(4 * 1024 * 1024);
    expect(templateCacheSize().templates).to.be.below(200);
  });
});
