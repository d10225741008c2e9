/**
 * The command router: `bot.hears(pattern, handler, { help })` and `bot.command(name, handler)`.
 * The first route that matches a message handles it. In group rooms the bot's mention at the
 * start of the text is stripped first ("Echo Bot /echo hi" → "/echo hi"). A `help` command that
 * lists the routes is built in, unless a route of your own answers "help".
 */
import type { Activity, ReceivedMessage, ReplyContent } from './types.js';
import type { Message, Person } from '../rest/types.js';
import { uuidOf } from '../protocol/ids.js';

export interface CommandContext {
  /** The message, with `reply()`. */
  readonly message: ReceivedMessage;
  readonly activity: Activity;
  /** The text with the bot's mention removed (group rooms) and trimmed. */
  readonly text: string;
  /** For `hears` with a RegExp: the match. For `command`: the whole match too. */
  readonly match: RegExpMatchArray;
  /** For `command`: the words after the command. */
  readonly args: readonly string[];
  /** For `command`: the text after the command, as typed. */
  readonly rest: string;
  /** Same as `message.reply()`. */
  reply(content: ReplyContent): Promise<Message>;
}

export type CommandHandler = (context: CommandContext) => unknown;

interface Route {
  readonly pattern: RegExp;
  readonly handler: CommandHandler;
  /** How the route shows in the help, e.g. "/echo <text>"; absent routes are not listed. */
  readonly usage: string | undefined;
  readonly help: string | undefined;
  readonly command: boolean;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class Router {
  private readonly routes: Route[] = [];

  /**
   * Handles messages whose text matches `pattern`: a string matches the start of the text as whole
   * words, case-insensitively ("hello" matches "Hello there", not "helloween"); a RegExp is tested
   * against the whole text.
   */
  hears(pattern: string | RegExp, handler: CommandHandler, options: { help?: string } = {}): void {
    if (typeof handler !== 'function') throw new TypeError('hears(pattern, handler): the handler must be a function');
    let regexp: RegExp;
    if (typeof pattern === 'string') {
      if (pattern.trim() === '') throw new TypeError('hears(pattern, handler): the pattern must not be empty');
      regexp = new RegExp(`^${escape(pattern.trim())}(?=\\s|$)`, 'i');
    } else if (pattern instanceof RegExp) regexp = pattern;
    else throw new TypeError('hears(pattern, handler): the pattern must be a string or a RegExp');
    this.routes.push({ pattern: regexp, handler, usage: typeof pattern === 'string' ? pattern : pattern.source, help: options.help, command: false });
  }

  /** Handles "/name …" (or "name …"), case-insensitively; `args` are the words after it. */
  command(name: string, handler: CommandHandler, options: { help?: string; usage?: string } = {}): void {
    if (typeof handler !== 'function') throw new TypeError('command(name, handler): the handler must be a function');
    const bare = typeof name === 'string' ? name.trim().replace(/^\//, '') : '';
    if (!/^[\w-]+$/.test(bare)) throw new TypeError(`command(name, handler): the name must be one word, got ${JSON.stringify(name)}`);
    this.routes.push({
      pattern: new RegExp(`^/?${escape(bare)}(?:\\s+([\\s\\S]*))?$`, 'i'),
      handler,
      usage: options.usage ?? `/${bare}`,
      help: options.help ?? '',
      command: true,
    });
  }

  /** The generated help text (markdown). */
  helpText(): string {
    const lines = this.routes.filter((r) => r.help !== undefined).map((r) => `- **${r.usage ?? ''}**${r.help ? ` — ${r.help}` : ''}`);
    if (!this.answers('help')) lines.push('- **/help** — this list');
    return `I understand:\n${lines.join('\n')}`;
  }

  /** Runs the first matching route; false when none matched. */
  async route(message: ReceivedMessage, activity: Activity, me: Person | undefined): Promise<boolean> {
    const text = stripMention(message, me);
    for (const route of this.routes) {
      const match = text.match(route.pattern);
      if (!match) continue;
      const rest = route.command ? (match[1] ?? '').trim() : text.slice((match.index ?? 0) + match[0].length).trim();
      await route.handler({ message, activity, text, match, rest, args: rest === '' ? [] : rest.split(/\s+/), reply: (content) => message.reply(content) });
      return true;
    }
    if (/^\/?help$/i.test(text) && this.routes.length > 0) {
      await message.reply({ markdown: this.helpText() });
      return true;
    }
    return false;
  }

  private answers(text: string): boolean {
    return this.routes.some((route) => route.pattern.test(text));
  }
}

/**
 * The message text without the bot's mention. In group rooms Webex puts the mentioned bot's name,
 * as the author's client displayed it, at the start of the text; what was mentioned is in the
 * message itself: `<spark-mention data-object-id="<the bot's id>">Name</spark-mention>` in `html`
 * (and the id in `mentionedPeople`). That name is stripped — whatever characters it ends with
 * ("Bot (beta)", "Helper.", "Bot 🤖") — and, for messages without markup, the bot's display name,
 * nickname or first name.
 */
export function stripMention(message: Pick<Message, 'text' | 'roomType'> & Partial<Pick<Message, 'html'>>, me: Person | undefined): string {
  const text = (message.text ?? '').trim();
  if (message.roomType !== 'group' || !me) return text;
  const names = [...mentionedNames(message.html, me.id), me.displayName, me.nickName, me.firstName]
    .filter((n): n is string => typeof n === 'string' && n.trim() !== '')
    .map((n) => n.trim())
    .sort((a, b) => b.length - a.length);
  const start = text.startsWith('@') ? 1 : 0;
  for (const name of names) {
    if (text.slice(start, start + name.length).toLowerCase() !== name.toLowerCase()) continue;
    const after = text.slice(start + name.length);
    // "Testing" does not start with the mention "Test": the name must end where a word ends.
    if (/^[\p{L}\p{N}_]/u.test(after) && /[\p{L}\p{N}_]$/u.test(name)) continue;
    return after.replace(/^[\s,:]+/u, '').trim();
  }
  return text;
}

/** The texts of the `<spark-mention>`s of person `id` in `html` (entities decoded). */
function mentionedNames(html: string | undefined, id: string): string[] {
  if (typeof html !== 'string' || !html.includes('spark-mention')) return [];
  const me = uuidOf(id);
  const names: string[] = [];
  for (const match of html.matchAll(/<spark-mention\b([^>]*)>([\s\S]*?)<\/spark-mention>/gi)) {
    const attributes = match[1] ?? '';
    const objectId = /data-object-id\s*=\s*"([^"]*)"/i.exec(attributes)?.[1] ?? /data-object-id\s*=\s*'([^']*)'/i.exec(attributes)?.[1];
    if (objectId === undefined || uuidOf(decodeEntities(objectId)) !== me) continue;
    names.push(decodeEntities((match[2] ?? '').replace(/<[^>]*>/g, '')));
  }
  return names;
}

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos|#39|nbsp);/gi, (entity, name: string) => {
    const lower = name.toLowerCase();
    if (lower.startsWith('#')) {
      const code = lower.startsWith('#x') ? Number.parseInt(lower.slice(2), 16) : Number.parseInt(lower.slice(1), 10);
      return code <= 0x10ffff ? String.fromCodePoint(code) : entity;
    }
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' } as Record<string, string>)[lower] ?? entity;
  });
}
