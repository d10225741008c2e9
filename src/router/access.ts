/**
 * A ready middleware for the most common access rule: only people of given email domains, or on
 * a given list, may use the bot (the Webex framework's `restrictedToEmailDomains`). Others get a
 * polite answer, once per message or card submit, and the middleware after it and the routes do
 * not run for them ('activity' and 'message' fire before middleware, for everyone).
 *
 *   bot.use(restrictTo({ domains: ['example.com'], emails: ['partner@else.org'] }));
 */
import { SparkBotError } from '../errors.js';
import type { MessageContent } from './content.js';
import type { Middleware } from './context.js';

export interface AccessRule {
  /** Email domains whose people may use the bot, e.g. `['example.com']` (exactly that domain, not its subdomains; case does not matter). */
  readonly domains?: readonly string[];
  /** Email addresses that may use the bot besides (case does not matter). */
  readonly emails?: readonly string[];
  /** What the others are told (`false`: nothing). Default: "Sorry, I can only help people of <domains>." */
  readonly message?: MessageContent | false;
}

export function restrictTo(rule: AccessRule): Middleware {
  if (typeof rule !== 'object' || rule === null) throw new SparkBotError('INVALID_OPTION', 'restrictTo(rule): rule must be { domains?, emails?, message? }');
  const domains = new Set(list(rule.domains, 'domains').map((d) => d.replace(/^@/, '')));
  const emails = new Set(list(rule.emails, 'emails'));
  if (domains.size === 0 && emails.size === 0) throw new SparkBotError('INVALID_OPTION', 'restrictTo(rule): give at least one of domains or emails (else nobody could use the bot)');
  const refusal = rule.message ?? `Sorry, I can only help ${describe(domains)}.`;
  return async (context, next) => {
    // Unknown (a card submit whose person could not be looked up): not allowed.
    const email = context.personEmail?.toLowerCase();
    const allowed = email !== undefined && (emails.has(email) || domains.has(email.slice(email.lastIndexOf('@') + 1)));
    if (allowed) return next();
    if (refusal !== false) await context.reply(refusal);
  };
}

function list(value: readonly string[] | undefined, name: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item.trim() === '')) {
    throw new SparkBotError('INVALID_OPTION', `restrictTo(rule): ${name} must be a list of non-empty strings`);
  }
  return value.map((item) => item.trim().toLowerCase());
}

/** Who may use the bot, in words (a list of addresses is not told to those who are not on it). */
function describe(domains: ReadonlySet<string>): string {
  if (domains.size === 0) return 'a few people';
  const names = [...domains].map((d) => `@${d}`);
  return `people with ${names.length === 1 ? 'an' : 'a'} ${names.join(' or ')} address`;
}
