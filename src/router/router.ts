/**
 * Routing of messages and card submits:
 * - middleware (`use`) runs first, Koa-style, for both;
 * - a message goes to the first route that matches it — `command` ("/name args…" or "name args…")
 *   or `hears` (words at the start, or a RegExp) — in the order they were added, and to no other;
 *   then, when none matched, to the built-in `/help` (when a route has help text) or `otherwise`;
 * - a card submit goes to the `action` whose id is its data's `action` field; one that no action
 *   takes is not handled here (the bot emits it as 'cardAction').
 * In group rooms the bot's mention is stripped from the text first (src/router/mention.ts).
 */
import { SparkBotError } from '../errors.js';
import { splitArgs } from './args.js';
import type { ActionContext, ActionHandler, CommandHandler, Context, MessageContext, Middleware } from './context.js';

interface Route {
  readonly pattern: RegExp;
  readonly handler: CommandHandler;
  /** How the route shows in the help, e.g. "/echo <text>". */
  readonly usage: string | undefined;
  /** Routes without help text are not listed in `/help`. */
  readonly help: string | undefined;
  readonly command: boolean;
}

export interface RouteOptions {
  /** One line for `/help`; routes without it are not listed. */
  readonly help?: string;
  /** How `/help` shows the route, e.g. "/remind <what> <when>" (default for a command: "/name"). */
  readonly usage?: string;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function invalid(message: string): SparkBotError {
  return new SparkBotError('INVALID_OPTION', message);
}

export class Router {
  private readonly routes: Route[] = [];
  private readonly actions = new Map<string, ActionHandler>();
  private readonly middleware: Middleware[] = [];
  private fallback: CommandHandler | undefined;

  /**
   * Handles messages whose text matches `pattern`: a string matches the start of the text as whole
   * words, case-insensitively ("hello" matches "Hello there" and "Hello!", not "helloween"); a RegExp is tested
   * against the whole text (the `g` and `y` flags are refused: they make a RegExp remember where
   * it last matched, so it would miss messages).
   */
  hears(pattern: string | RegExp, handler: CommandHandler, options: RouteOptions = {}): void {
    checkHandler(handler, 'hears(pattern, handler)');
    let regexp: RegExp;
    if (typeof pattern === 'string') {
      if (pattern.trim() === '') throw invalid('hears(pattern, handler): the pattern must not be empty');
      // Whole words: "Hello!" and "hello, bot" match, "helloween" does not.
      regexp = new RegExp(`^${escape(pattern.trim())}(?![\\p{L}\\p{N}_])`, 'iu');
    } else if (pattern instanceof RegExp) {
      if (pattern.global || pattern.sticky) {
        throw invalid(`hears(${String(pattern)}, handler): the ${pattern.global ? 'g' : 'y'} flag makes a RegExp remember where it last matched (lastIndex), so it would miss every other message; drop it`);
      }
      regexp = pattern;
    } else throw invalid('hears(pattern, handler): the pattern must be a string or a RegExp');
    checkOptions(options, 'hears');
    this.routes.push({ pattern: regexp, handler, usage: options.usage ?? (typeof pattern === 'string' ? pattern.trim() : undefined), help: options.help, command: false });
  }

  /** Handles "/name …" (or "name …"), case-insensitively; `args` are the arguments after it, split as a shell would. */
  command(name: string, handler: CommandHandler, options: RouteOptions = {}): void {
    checkHandler(handler, 'command(name, handler)');
    const bare = typeof name === 'string' ? name.trim().replace(/^\//, '') : '';
    if (!/^[\w-]+$/.test(bare)) throw invalid(`command(name, handler): the name must be one word, got ${JSON.stringify(name)}`);
    checkOptions(options, 'command');
    this.routes.push({
      pattern: new RegExp(`^/?${escape(bare)}(?:\\s+([\\s\\S]*))?$`, 'i'),
      handler,
      usage: options.usage ?? `/${bare}`,
      help: options.help,
      command: true,
    });
  }

  /** Handles card submits whose data carries `{ action: id }` (set it in the card's `Action.Submit` `data`). */
  action<Inputs extends object>(id: string, handler: ActionHandler<Inputs>): void {
    checkHandler(handler, 'action(id, handler)');
    if (typeof id !== 'string' || id.trim() === '') throw invalid(`action(id, handler): the id must be a non-empty string, got ${JSON.stringify(id)}`);
    if (this.actions.has(id)) throw invalid(`action(${JSON.stringify(id)}, handler): this id has a handler already`);
    this.actions.set(id, handler as ActionHandler);
  }

  /** Handles the messages no route matched. */
  otherwise(handler: CommandHandler): void {
    checkHandler(handler, 'otherwise(handler)');
    if (this.fallback) throw invalid('otherwise(handler): there is one already');
    this.fallback = handler;
  }

  use(middleware: Middleware): void {
    checkHandler(middleware, 'use(middleware)');
    this.middleware.push(middleware);
  }

  /** The generated help text (markdown): routes with help text, and /help. */
  helpText(): string {
    const lines = this.routes.filter((r) => r.help !== undefined && r.help !== '').map((r) => (r.usage ? `- **${r.usage}** — ${r.help}` : `- ${r.help}`));
    if (!this.answers('help')) lines.push('- **/help** — this list');
    return `I understand:\n${lines.join('\n')}`;
  }

  /**
   * Runs the middleware and then the first matching route (or help, or otherwise) for a message.
   * `make` builds the handler's context once a route is known (its match and arguments).
   */
  async handleMessage(base: MessageContext, reply: (markdown: string) => Promise<unknown>): Promise<void> {
    await this.run(base, async () => {
      const { text } = base;
      for (const route of this.routes) {
        const match = text.match(route.pattern);
        if (!match) continue;
        const rest = route.command ? (match[1] ?? '').trim() : text.slice((match.index ?? 0) + match[0].length).trim();
        await route.handler({ ...base, match, rest, args: route.command ? splitArgs(rest) : rest === '' ? [] : rest.split(/\s+/) });
        return;
      }
      if (/^\/?help$/i.test(text) && this.routes.some((r) => r.help !== undefined && r.help !== '')) {
        await reply(this.helpText());
        return;
      }
      if (this.fallback) await this.fallback(base);
    });
  }

  /** Runs the middleware and the action route of a card submit. Resolves false when no route took it (and no middleware stopped it). */
  async handleAction(context: ActionContext): Promise<boolean> {
    let taken = true;
    await this.run(context, async () => {
      const id = context.inputs.action;
      const handler = typeof id === 'string' ? this.actions.get(id) : undefined;
      if (handler === undefined) {
        taken = false;
        return;
      }
      await handler(context);
    });
    return taken;
  }

  private async run(context: Context, last: () => Promise<void>): Promise<void> {
    const dispatch = async (index: number): Promise<void> => {
      const middleware = this.middleware[index];
      if (middleware === undefined) return last();
      let called = false;
      await middleware(context, async () => {
        if (called) throw new SparkBotError('HANDLER_ERROR', 'a middleware called next() twice');
        called = true;
        await dispatch(index + 1);
      });
    };
    await dispatch(0);
  }

  private answers(text: string): boolean {
    return this.routes.some((route) => route.pattern.test(text));
  }
}

function checkHandler(handler: unknown, where: string): void {
  if (typeof handler !== 'function') throw invalid(`${where}: the handler must be a function, got ${typeof handler}`);
}

function checkOptions(options: RouteOptions, where: string): void {
  if (typeof options !== 'object' || options === null) throw invalid(`${where}(…, options): options must be { help?, usage? }`);
  for (const key of ['help', 'usage'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'string') throw invalid(`${where}(…, { ${key} }): ${key} must be a string`);
  }
}
