/**
 * `sparkbot new <dir>`: a new bot project from templates/bot/ — bot.js, bot.test.js, README.md,
 * .gitignore (stored as `gitignore`: npm leaves `.gitignore` files out of packages) and a
 * package.json with the project's name and its dependency on this sparkbot.
 */
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { dependencySpec, packageRoot } from './package.js';
import { SetupError } from './args.js';

/** Template file → the name it gets in the new project. */
const FILES: Readonly<Record<string, string>> = {
  'bot.js': 'bot.js',
  'bot.test.js': 'bot.test.js',
  'README.md': 'README.md',
  gitignore: '.gitignore',
};

/** An npm package name from a directory name: "My Bot!" → "my-bot". */
export function packageName(dir: string): string {
  const name = basename(resolve(dir))
    .toLowerCase()
    .replace(/[^a-z0-9._~-]+/g, '-')
    .replace(/^[._-]+|[._-]+$/g, '')
    .slice(0, 214);
  return name === '' || name === 'node_modules' || name === 'favicon.ico' ? 'my-bot' : name;
}

async function isMissingOrEmpty(dir: string): Promise<boolean> {
  const info = await stat(dir).catch(() => undefined);
  if (!info) return true;
  if (!info.isDirectory()) throw new SetupError(`sparkbot new: ${dir} exists and is not a directory`);
  return (await readdir(dir)).length === 0;
}

export interface Scaffolded {
  readonly dir: string;
  readonly name: string;
  readonly files: readonly string[];
  readonly sparkbot: string;
}

/** Writes the project; refuses a directory that is not empty. */
export async function scaffold(target: string, cwd = process.cwd()): Promise<Scaffolded> {
  const dir = resolve(cwd, target);
  if (!(await isMissingOrEmpty(dir))) throw new SetupError(`sparkbot new: ${dir} is not empty; give a new or empty directory`);
  const root = packageRoot();
  const templates = join(root, 'templates', 'bot');
  const name = packageName(dir);
  const sparkbot = dependencySpec(root);
  const fill = (text: string) => text.replaceAll('{{name}}', name);

  const manifest = JSON.parse(await readFile(join(templates, 'package.json'), 'utf8')) as Record<string, unknown>;
  manifest.name = name;
  manifest.dependencies = { ...(manifest.dependencies as Record<string, string> | undefined), sparkbot };

  await mkdir(dir, { recursive: true });
  const written = ['package.json'];
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`, { flag: 'wx' });
  for (const [from, to] of Object.entries(FILES)) {
    await writeFile(join(dir, to), fill(await readFile(join(templates, from), 'utf8')), { flag: 'wx' });
    written.push(to);
  }
  return { dir, name, files: written, sparkbot };
}
