/**
 * The committed diagrams in docs/ are what scripts/diagram.ts makes of the machines now (generated
 * in memory; nothing is written), making them is deterministic, and every machine in machines/
 * (the connection, the REST outbox, the claim) has one.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { claimMachine } from '../../machines/claim.js';
import { DIAGRAMS, EMBEDS, fillEmbeds, mermaidOf, renderDoc } from '../../scripts/diagram.js';
import { machineTransitions, stateNodesOf } from '../../scripts/machine-graph.js';

const ROOT = new URL('../../', import.meta.url);

test('every machine in machines/ is drawn in docs/', async () => {
  const machines = (await readdir(new URL('machines/', ROOT))).filter((file) => file.endsWith('.ts')).map((file) => `machines/${file}`);
  assert.deepEqual(DIAGRAMS.map((spec) => spec.source).sort(), machines.sort());
  assert.deepEqual(DIAGRAMS.map((spec) => spec.file).sort(), ['docs/claim.md', 'docs/connection.md', 'docs/outbox.md']);
});

for (const spec of DIAGRAMS) {
  test(`${spec.file} is up to date with ${spec.source} (npm run diagram)`, async () => {
    const committed = await readFile(new URL(spec.file, ROOT), 'utf8').catch(() => '(missing)');
    assert.equal(committed, renderDoc(spec), `${spec.file} is out of date: run npm run diagram`);
  });

  test(`${spec.file}: every state and every transition of ${spec.machine.id} is drawn, the same way every time`, () => {
    const diagram = mermaidOf(spec.machine);
    assert.equal(mermaidOf(spec.machine), diagram, 'deterministic');
    for (const node of stateNodesOf(spec.machine)) assert.match(diagram, new RegExp(`\\b${node.key}\\b`), `state ${node.id}`);
    const edges = diagram.split('\n').filter((line) => line.includes(' --> ') && !line.includes('[*]'));
    const expected = machineTransitions(spec.machine).reduce((n, t) => n + Math.max(1, t.targets.length), 0);
    assert.equal(edges.length, expected, 'one edge per transition (and target)');
  });
}

test('every invoke of a drawn machine has an id of its own, which labels its done / error edges', () => {
  for (const spec of DIAGRAMS) {
    for (const node of stateNodesOf(spec.machine)) {
      node.invoke.forEach((invoke, index) => {
        // Without an id, XState makes one up (`<index>.<state id>`), which would be the label.
        assert.notEqual(invoke.id, `${index}.${node.id}`, `the invoke of ${node.id} (${String(invoke.src)}) has an id`);
      });
    }
  }
  const diagram = mermaidOf(claimMachine);
  assert.match(diagram, /claiming --> running : claim done \[claimed\]/);
  assert.match(diagram, /claiming --> claiming : claim done \[noticed meanwhile\] \(re-entered\)/);
  assert.match(diagram, /claiming --> offline : claim error/);
  assert.match(diagram, /renewing --> holding : renew done \[kept\]/);
  assert.match(diagram, /finishing --> abandoned : finish error \[stopping\]/);
  assert.match(diagram, /finishing --> retryingFinish : finish error \[otherwise\]/);
  assert.match(diagram, /releasing --> released : release error/);
});

for (const file of EMBEDS) {
  test(`the diagrams embedded in ${file} are up to date (npm run diagram)`, async () => {
    const committed = await readFile(new URL(file, ROOT), 'utf8');
    assert.match(committed, /<!-- diagram:\w+ -->/);
    assert.equal(committed, fillEmbeds(committed), `${file} is out of date: run npm run diagram`);
  });
}

test('an embedded diagram region with stale content is filled with the machine’s diagram', () => {
  for (const spec of DIAGRAMS) {
    const id = spec.machine.id;
    const stale = `before\n<!-- diagram:${id} -->\n\`\`\`mermaid\nstateDiagram-v2\n  old --> older\n\`\`\`\n<!-- /diagram:${id} -->\nafter\n`;
    const filled = fillEmbeds(stale);
    assert.notEqual(filled, stale, `the ${id} region is rewritten`);
    // The closing fence on a line of its own, whether or not the diagram ends with a newline.
    const diagram = mermaidOf(spec.machine).replace(/\n?$/, '\n');
    assert.equal(filled, `before\n<!-- diagram:${id} -->\n\`\`\`mermaid\n${diagram}\`\`\`\n<!-- /diagram:${id} -->\nafter\n`);
  }
});
