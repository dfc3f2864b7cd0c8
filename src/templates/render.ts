import { Eta } from 'eta';

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

const eta = new Eta({ autoEscape: false, useWith: false, cache: false, rmWhitespace: false });
const compiled = new Map<string, ReturnType<Eta['compile']>>();

/** Renders an Eta template string; compiled templates are cached by their text. */
export function renderTemplate(template: string, context: RenderContext): string {
  let render = compiled.get(template);
  if (render === undefined) {
    render = eta.compile(template);
    compiled.set(template, render);
  }
  return eta.render(render, context);
}
