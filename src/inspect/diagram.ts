/**
 * Draws a machine's states and transitions as SVG, with a deterministic layout computed from the
 * definition (see graph.ts): the states are columns, each headed by a rounded box (a compound
 * state is a rounded region around its children's columns, e.g. `online` around `connecting`,
 * `open` and `awaitingPong`), and every transition is a row of its own: an arrow from its source
 * column to its target column, labelled above it, `event [guard]`. A transition of the machine
 * itself starts from an "any state" column; one without a target, or one that re-enters its own
 * state, is a loop. No two labels or boxes overlap, whatever the machine: correct, not beautiful.
 *
 * The layout depends on the definition only; what is lit (the current state, the transitions just
 * taken) is given when rendering, and changed live in the page through the data attributes.
 */
import type { GraphEdge, MachineGraph } from './graph.js';

/** Width of a character of a state's name (12px monospace) and of a label (11px monospace), px. */
const NAME_CHAR = 7.3;
const LABEL_CHAR = 6.7;
const MARGIN = 16;
/** Between two sibling columns, and inside a compound region on each side. */
const GAP = 18;
const PAD = 10;
const MIN_BOX = 84;
const BOX_H = 30;
/** Height of the band that holds a compound state's name above its children. */
const HEADER_STEP = 26;
const ROW_H = 30;

interface Column {
  readonly path: string;
  readonly x: number;
  readonly width: number;
  readonly leaf: boolean;
  readonly depth: number;
}

/** The geometry of one machine's diagram (the same for every bot running that machine). */
export interface DiagramLayout {
  readonly graph: MachineGraph;
  readonly width: number;
  readonly height: number;
  readonly columns: ReadonlyMap<string, Column>;
  readonly leafTop: number;
  readonly rowsTop: number;
  readonly bottom: number;
  readonly rows: readonly { readonly edge: GraphEdge; readonly y: number; readonly path: string; readonly labelX: number; readonly labelY: number }[];
}

/** What is lit in a rendering. */
export interface Lit {
  /** Paths of the active states (a leaf and its ancestors). */
  readonly active: ReadonlySet<string>;
  /** Paths of the current leaf states. */
  readonly current: ReadonlySet<string>;
  /** Keys of the transitions taken by the last step. */
  readonly taken: ReadonlySet<string>;
}

/** The layout of `graph`'s diagram. */
export function layoutDiagram(graph: MachineGraph): DiagramLayout {
  const byPath = new Map(graph.states.map((s) => [s.path, s]));
  const columns = new Map<string, Column>();
  const maxDepth = Math.max(1, ...graph.states.map((s) => s.depth));

  const place = (path: string, x: number): number => {
    const state = byPath.get(path);
    if (!state) return x;
    if (state.children.length === 0) {
      const width = Math.max(MIN_BOX, Math.ceil(state.key.length * NAME_CHAR) + 24);
      columns.set(path, { path, x, width, leaf: true, depth: state.depth });
      return x + width;
    }
    let inner = x + PAD;
    state.children.forEach((child, i) => {
      if (i > 0) inner += GAP;
      inner = place(child, inner);
    });
    const right = Math.max(inner + PAD, x + Math.ceil(state.key.length * NAME_CHAR) + 2 * PAD);
    columns.set(path, { path, x, width: right - x, leaf: false, depth: state.depth });
    return right;
  };

  let x = MARGIN;
  if (graph.hasRootTransitions) {
    columns.set('', { path: '', x, width: MIN_BOX, leaf: true, depth: 1 });
    x += MIN_BOX + GAP;
  }
  graph.states.filter((s) => s.depth === 1).forEach((s, i) => {
    if (i > 0) x += GAP;
    x = place(s.path, x);
  });
  let width = x + MARGIN;

  const top = MARGIN;
  const leafTop = top + (maxDepth - 1) * HEADER_STEP;
  const rowsTop = leafTop + BOX_H + 14;
  const rows = graph.edges.map((edge, i) => {
    const y = rowsTop + i * ROW_H + ROW_H - 8;
    const { path, labelX, labelY } = edgeGeometry(edge, columns, y);
    width = Math.max(width, Math.ceil(labelX + edge.label.length * LABEL_CHAR) + MARGIN);
    return { edge, y, path, labelX, labelY };
  });
  const bottom = rowsTop + graph.edges.length * ROW_H + 12;
  return { graph, width, height: bottom + MARGIN, columns, leafTop, rowsTop, bottom, rows };
}

/** The arrow of one edge at height `y`, and where its label goes. */
function edgeGeometry(edge: GraphEdge, columns: ReadonlyMap<string, Column>, y: number): { path: string; labelX: number; labelY: number } {
  const from = columns.get(edge.from) ?? columns.get('');
  const to = columns.get(edge.to) ?? columns.get('');
  if (!from || !to) return { path: '', labelX: MARGIN, labelY: y - 6 };
  const centre = (c: Column) => c.x + c.width / 2;
  /** Where an arrow meets a column: a leaf's centre line, or the side of a compound region facing the other end. */
  const anchor = (c: Column, toward: number) => {
    if (c.leaf) return centre(c);
    if (toward >= c.x + c.width) return c.x + c.width;
    return c.x;
  };
  const start = anchor(from, centre(to));
  const end = anchor(to, start);
  if (from === to || Math.abs(start - end) < 1) {
    // A loop: out to the right and back.
    const x = from.leaf ? centre(from) : from.x + from.width;
    return { path: `M${x} ${y - 7} h22 v12 h-19`, labelX: x + 28, labelY: y + 3 };
  }
  const dir = end > start ? 1 : -1;
  return { path: `M${start} ${y} H${end - dir * 2}`, labelX: Math.min(start, end) + 6, labelY: y - 6 };
}

/** The SVG of a diagram, with `lit` lit. */
export function renderDiagram(layout: DiagramLayout, lit: Lit, title: string): string {
  const { graph, columns } = layout;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="diagram" viewBox="0 0 ${layout.width} ${layout.height}" width="${layout.width}" height="${layout.height}" role="img" aria-label="${esc(title)}">`,
  );
  // Compound regions first (outermost first), then leaves, then the arrows on top.
  const compounds = graph.states.filter((s) => s.children.length > 0);
  for (const state of compounds) {
    const c = columns.get(state.path);
    if (!c) continue;
    const y = MARGIN + (state.depth - 1) * HEADER_STEP;
    const bottom = layout.bottom - (state.depth - 1) * 6;
    out.push(
      `<g ${stateAttrs(state.path, 'compound', lit)}><title>${esc(state.path)}</title>` +
        `<rect class="box" x="${c.x}" y="${y}" width="${c.width}" height="${bottom - y}" rx="12"/>` +
        `<text class="name" x="${c.x + PAD}" y="${y + 17}">${esc(state.key)}</text>` +
        (state.initial ? initialMark(c.x, y + 12) : '') +
        '</g>',
    );
  }
  const any = columns.get('');
  if (any) out.push(leafGroup(any, 'any state', 'class="state any"', layout, false, false));
  for (const state of graph.states) {
    if (state.children.length > 0) continue;
    const c = columns.get(state.path);
    if (!c) continue;
    out.push(leafGroup(c, state.key, stateAttrs(state.path, 'leaf', lit), layout, state.initial, state.final, state.path));
  }
  for (const row of layout.rows) {
    if (row.path === '') continue;
    const taken = lit.taken.has(row.edge.key);
    out.push(
      `<g class="edge${taken ? ' taken' : ''}" data-transition="${esc(row.edge.key)}" data-from="${esc(row.edge.from)}" data-to="${esc(row.edge.to)}">` +
        `<title>${esc(`${row.edge.from || 'any state'} → ${row.edge.to || 'any state'}: ${row.edge.label}`)}</title>` +
        `<path d="${row.path}"/>` +
        `<text x="${row.labelX}" y="${row.labelY}">${esc(row.edge.label)}</text></g>`,
    );
  }
  out.push('</svg>');
  return out.join('');
}

/** The shared arrowheads (one `<defs>` per page: every diagram's arrows refer to them, through the page's CSS). */
export const ARROW_DEFS =
  '<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>' +
  '<marker id="sparkbot-arrow" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">' +
  '<path d="M0 0L10 5L0 10z" fill="#57606a"/></marker>' +
  '<marker id="sparkbot-arrow-taken" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">' +
  '<path d="M0 0L10 5L0 10z" fill="#cf222e"/></marker></defs></svg>';

function stateAttrs(path: string, kind: 'leaf' | 'compound', lit: Lit): string {
  const current = lit.current.has(path);
  const classes = ['state', kind, ...(current ? ['current'] : []), ...(lit.active.has(path) ? ['active'] : [])];
  return `class="${classes.join(' ')}" data-testid="state" data-state="${esc(path)}" data-current="${current}"`;
}

function leafGroup(c: Column, name: string, attrs: string, layout: DiagramLayout, initial: boolean, final: boolean, path?: string): string {
  const cx = c.x + c.width / 2;
  const y = layout.leafTop;
  const bottom = layout.bottom - (c.depth - 1) * 6 - 4;
  return (
    `<g ${attrs}>${path === undefined ? '' : `<title>${esc(path)}</title>`}` +
    `<line class="lifeline" x1="${cx}" y1="${y + BOX_H}" x2="${cx}" y2="${bottom}"/>` +
    `<rect class="box" x="${c.x}" y="${y}" width="${c.width}" height="${BOX_H}" rx="8"/>` +
    (final ? `<rect class="inner" x="${c.x + 3}" y="${y + 3}" width="${c.width - 6}" height="${BOX_H - 6}" rx="6"/>` : '') +
    `<text class="name" x="${cx}" y="${y + 19}" text-anchor="middle">${esc(name)}</text>` +
    (initial ? initialMark(c.x, y + BOX_H / 2) : '') +
    '</g>'
  );
}

/** The initial-state mark: a dot just left of the box. */
function initialMark(x: number, y: number): string {
  return `<circle class="initial" cx="${x - 8}" cy="${y}" r="4"/>`;
}

/** `text` escaped for HTML and XML text and attributes. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}
