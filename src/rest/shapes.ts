/**
 * What a REST answer must look like before sparkbot uses it. A 2xx answer can still be an empty
 * body, `null`, a string, an array or an object without the fields the bot reads (a proxy, a
 * broken server, an API change): each resource names the fields it needs, and an answer without
 * them is an error that says which, instead of a TypeError deep inside a handler.
 */

/** A field's type: a required string, or an optional one (absent or that type). */
type FieldRule = 'string' | 'string?' | 'boolean?' | 'strings?' | 'object?';

export interface Shape {
  /** What the answer is, for messages: "a message". */
  readonly what: string;
  readonly fields: Readonly<Record<string, FieldRule>>;
}

const shape = (what: string, fields: Record<string, FieldRule>): Shape => ({ what, fields });

export const SHAPES = {
  person: shape('a person', { id: 'string', displayName: 'string?', nickName: 'string?', firstName: 'string?', emails: 'strings?' }),
  message: shape('a message', {
    id: 'string',
    roomId: 'string',
    roomType: 'string?',
    text: 'string?',
    markdown: 'string?',
    html: 'string?',
    parentId: 'string?',
    personId: 'string?',
    personEmail: 'string?',
    files: 'strings?',
    mentionedPeople: 'strings?',
  }),
  room: shape('a room', { id: 'string', title: 'string?', type: 'string?' }),
  membership: shape('a membership', { id: 'string', roomId: 'string', personId: 'string?', personEmail: 'string?' }),
  team: shape('a team', { id: 'string' }),
  teamMembership: shape('a team membership', { id: 'string' }),
  webhook: shape('a webhook', { id: 'string' }),
  attachmentAction: shape('a card action', { id: 'string', roomId: 'string', messageId: 'string?', personId: 'string?', inputs: 'object?' }),
} as const;

/** A list page, before its items are looked at: any JSON object. */
const PAGE = shape('a page', {});

/** What is wrong with `body` for `shape` ("got null", "got an object without a string \"roomId\""), or undefined when it fits. */
export function problemWith(body: unknown, text: string, shape: Shape): string | undefined {
  if (text === '') return 'got an empty body';
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return `got ${describeJson(body)}`;
  const record = body as Record<string, unknown>;
  for (const [field, rule] of Object.entries(shape.fields)) {
    const value = record[field];
    const optional = rule.endsWith('?');
    if (value === undefined && optional) continue;
    if (!fits(value, rule)) return `got an object ${value === undefined ? 'without a' : 'with a wrong'} ${describeRule(rule)} "${field}"${value === undefined ? '' : ` (${describeJson(value)})`}`;
  }
  return undefined;
}

/** A list page: an object with an `items` array whose every item fits `shape`. */
export function problemWithPage(body: unknown, text: string, shape: Shape): string | undefined {
  const notObject = problemWith(body, text, PAGE);
  if (notObject !== undefined) return notObject;
  const items = (body as { items?: unknown }).items;
  if (!Array.isArray(items)) return `got an object without an "items" array${items === undefined ? '' : ` (${describeJson(items)})`}`;
  for (const [index, item] of items.entries()) {
    const problem = problemWith(item, '-', shape);
    if (problem !== undefined) return `item ${index} of "items" is not ${shape.what}: it ${problem.replace(/^got/, 'is')}`;
  }
  return undefined;
}

function fits(value: unknown, rule: FieldRule): boolean {
  switch (rule) {
    case 'string':
      return typeof value === 'string' && value !== '';
    case 'string?':
      return typeof value === 'string';
    case 'boolean?':
      return typeof value === 'boolean';
    case 'strings?':
      return Array.isArray(value) && value.every((item) => typeof item === 'string');
    case 'object?':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
  }
}

function describeRule(rule: FieldRule): string {
  switch (rule) {
    case 'string':
      return 'non-empty string';
    case 'string?':
      return 'string';
    case 'boolean?':
      return 'boolean';
    case 'strings?':
      return 'list of strings';
    case 'object?':
      return 'object';
  }
}

/** "null", "a string", "the number 42", "an array", "an object". */
export function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'number':
      return `the number ${value}`;
    case 'boolean':
      return `${value}`;
    case 'undefined':
      return 'nothing';
    default:
      return 'an object';
  }
}
