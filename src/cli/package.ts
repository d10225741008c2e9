/**
 * Where this sparkbot lives: its package root (for templates/ and for the dependency a new project
 * gets) and whether it came from a registry.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../version.js';

export { VERSION };

/**
 * The directory of sparkbot's own package.json, found by walking up from this file: `src/cli/`
 * when run from source (tsx), `dist/src/cli/` when run built.
 */
export function packageRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'sparkbot') return dir;
      } catch {
        // not a readable manifest: keep walking up
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find sparkbot's package.json above ${from}`);
    dir = parent;
  }
}

/** True when the package root is inside a node_modules directory, i.e. it was installed from a registry (or a tarball). */
export function installedFromRegistry(root: string): boolean {
  return root.split(sep).includes('node_modules');
}

/** What a new project puts in its dependencies for this sparkbot. */
export function dependencySpec(root: string = packageRoot()): string {
  return installedFromRegistry(root) ? `^${VERSION}` : `file:${root}`;
}
