/** The machines' transitions, read from their definitions: src/machine-graph.ts (shipped: the offline inspector draws with it too). */
export * from '../src/machine-graph.js';
