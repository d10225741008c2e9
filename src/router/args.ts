/**
 * Command arguments, split as a shell would (POSIX quoting rules, via the `shlex` package):
 * `/remind "stand up" 9:30` → `['stand up', '9:30']`. Chat text is not shell input, so:
 * - typographic quotes (“ ” ‘ ’, which phones type) count as quotes;
 * - an apostrophe inside a word (`don't`, `Bob’s`) is an apostrophe, not a quote;
 * - a backslash is a backslash (`C:\Users\bob`), not an escape;
 * - text a shell would still refuse (a quote with no partner) falls back to words split on white space.
 */
import { split } from 'shlex';

const DOUBLE = /[“”„‟]/g;
const SINGLE = /[‘’‚‛]/g;
/** Stand-ins, from Unicode's private use area, for the characters that must reach the result unchanged. */
const KEPT = ['\\', "'", '‘', '’', '‚', '‛'];
const standIn = (char: string) => String.fromCharCode(0xe000 + KEPT.indexOf(char));

export function splitArgs(text: string): string[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  const prepared = trimmed
    .replace(/\\/g, standIn)
    .replace(/(?<=[\p{L}\p{N}])['‘’‚‛](?=[\p{L}\p{N}])/gu, standIn)
    .replace(DOUBLE, '"')
    .replace(SINGLE, "'");
  let words: string[];
  try {
    words = split(prepared);
  } catch {
    words = prepared.split(/\s+/);
  }
  return words.map((word) => word.replace(/[\uE000-\uE005]/g, (char) => KEPT[char.charCodeAt(0) - 0xe000] ?? char));
}
