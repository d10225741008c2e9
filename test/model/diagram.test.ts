/**
 * The committed diagrams in docs/ are what scripts/diagram.ts makes of the machines now (generated
 * in memory; nothing is written), and making them is deterministic.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { DIAGRAMS, mermaidOf, renderDoc } from '../../scripts/diagram.js';
import { machineTransitions, stateNodesOf } from '../../scripts/machine-graph.js';

const ROOT = new URL('../../', import.meta.url);

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
