/**
 * Every ```ts block of the README and of docs/*.md compiles against the built package, with the
 * project's strict settings, so the docs cannot drift from the API. Each block is a module of
 * its own; a few names the snippets take as given (`bot`, `token`, …) are declared globally, and
 * the optional @statelyai/inspect peer (not installed) is stubbed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));

/** What snippets use without declaring it. */
const GIVEN = `// Names the documentation's snippets take as given.
declare const bot: import('sparkbot').SparkBot;
declare const token: string;
declare const SparkBot: typeof import('sparkbot').SparkBot;
declare const WebexEmulator: typeof import('sparkbot/emulator').WebexEmulator;
declare function registerSomehow(): Promise<{ url: string; webSocketUrl: string }>;
declare function saveSomewhere(device: { url: string; webSocketUrl: string }): void;
declare function handle(envelope: unknown): void;
declare module '@statelyai/inspect' {
  export function createWebSocketInspector(options: { url: string }): { inspect: (event: unknown) => void };
}
declare module '@statelyai/inspect/server' {
  export function createInspectorServer(options: { port: number }): unknown;
}
`;

interface Block {
  readonly doc: string;
  readonly index: number;
  /** The line of the doc where the block's code starts. */
  readonly line: number;
  readonly code: string;
}

async function blocks(): Promise<Block[]> {
  const docs = ['README.md', ...(await readdir(join(root, 'docs'))).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const found: Block[] = [];
  for (const doc of docs.sort()) {
    const text = await readFile(join(root, doc), 'utf8');
    let index = 0;
    for (const match of text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)) {
      const line = text.slice(0, match.index).split('\n').length + 1;
      found.push({ doc, index: index++, line, code: match[1] ?? '' });
    }
  }
  return found;
}

test('every ts code block of the README and the docs type-checks against the package', async (t) => {
  const all = await blocks();
  assert.ok(all.length >= 15, `found ${all.length} blocks`);
  assert.ok(all.some((b) => b.doc === 'docs/guide.md'), 'the guide is checked too');
  // Inside the package, so that `import … from 'sparkbot'` resolves to it (dist/, built by npm test).
  const dir = await mkdtemp(join(root, '.doc-blocks-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const name = (b: Block) => `${b.doc.replace(/[/.]/g, '_')}__${b.index}.ts`;
  for (const block of all) await writeFile(join(dir, name(block)), `${block.code}\nexport {};\n`);
  await writeFile(join(dir, 'given.d.ts'), GIVEN);
  await writeFile(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ extends: '../tsconfig.json', compilerOptions: { noEmit: true, rootDir: '.' }, include: ['./*.ts'] }),
  );
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const run = await promisify(execFile)(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { cwd: root }).then(
    () => '',
    (error: { stdout?: string }) => error.stdout ?? String(error),
  );
  // "…/docs_guide_md__3.ts(4,7): error TS2345: …" → "docs/guide.md, block 4 (line 123): error TS2345: …"
  const explained = run.replace(/^(?:.*[\\/])?([\w.-]+__\d+)\.ts\((\d+),(\d+)\)/gm, (whole, file: string, line: string) => {
    const block = all.find((b) => name(b) === `${file}.ts`);
    return block ? `${block.doc}, block ${block.index + 1} (line ${block.line + Number(line) - 1})` : whole;
  });
  assert.equal(explained.trim(), '', `the docs do not compile (${relative(root, dir)}):\n${explained}`);
});
