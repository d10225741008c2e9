/**
 * The bot's @mention in a group-room message: found from what Webex says was mentioned, stripped
 * before routing.
 */
import type { Message, Person } from '../rest/types.js';
import { uuidOf } from '../protocol/ids.js';

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
