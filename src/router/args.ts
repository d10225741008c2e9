/**
 * Command arguments, split as a shell would (POSIX rules, via the `shlex` package):
 * `/remind "stand up" 9:30` → `['stand up', '9:30']`. Chat text is not shell input, so:
 * typographic quotes (“ ” ‘ ’, which phones type) count as quotes, and text a shell would refuse
 * (an apostrophe with no partner: `don't forget`) falls back to words split on white space.
 */
import { split } from 'shlex';

const CURLY = /[“”„‟]|[‘’‚‛]/g;

export function splitArgs(text: string): string[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  const straight = trimmed.replace(CURLY, (quote) => ('“”„‟'.includes(quote) ? '"' : "'"));
  try {
    return split(straight);
  } catch {
    return trimmed.split(/\s+/);
  }
}
