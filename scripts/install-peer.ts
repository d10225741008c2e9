/**
 * Installs a comparison client's own node_modules on demand (interop/, bench/peers/): the clients
 * nobody here wrote stay out of the project's install, each in a directory with its own pinned
 * package.json and package-lock.json.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * Installs `<dir>/node_modules` when it is missing or does not match `<dir>/package-lock.json`
 * (`npm ci`; `npm install` when package.json asks for other versions than the lock has). Says so
 * on stderr (stdout may be a report).
 */
export function ensureInstalled(dir: string, label: string): void {
  const read = (file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const lock = read('package-lock.json');
  const wanted = read('package.json').dependencies as Record<string, string>;
  const locked = (lock.packages[''].dependencies ?? {}) as Record<string, string>;
  const lockMatches = Object.keys(wanted).length === Object.keys(locked).length && Object.entries(wanted).every(([k, v]) => locked[k] === v);
  let installed = false;
  if (existsSync(join(dir, 'node_modules/.package-lock.json'))) {
    const hidden = read('node_modules/.package-lock.json').packages as Record<string, { version?: string }>;
    const packages = Object.entries(lock.packages as Record<string, { version?: string; optional?: boolean }>);
    installed = packages.every(([path, p]) => path === '' || hidden[path]?.version === p.version || (p.optional && !hidden[path]));
  }
  if (lockMatches && installed) return;
  const command = lockMatches ? 'ci' : 'install';
  console.error(`${label}: npm ${command} in ${relative(process.cwd(), dir) || dir} (node_modules ${installed ? 'ok' : 'missing or stale'}, lock ${lockMatches ? 'ok' : 'stale'}; a few minutes)`);
  execFileSync('npm', [command, '--no-audit', '--no-fund'], { cwd: dir, stdio: ['ignore', process.stderr, 'inherit'] });
}
