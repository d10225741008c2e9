/**
 * The inspector's page: plain HTML, CSS and JavaScript in one document, nothing loaded from
 * anywhere but the inspector itself (its Content-Security-Policy says so). The server renders the
 * whole page; the script only follows the server-sent events of `/events` to light the current
 * state, append transitions and refresh the context and the health.
 */
import { ARROW_DEFS, esc } from './diagram.js';

/** One line of a bot's transition log. */
export interface LogEntry {
  /** Order of arrival, across bots and machines. */
  readonly seq: number;
  readonly machine: 'connection' | 'outbox';
  /** The state path(s) before (`null` for the machine's first state). */
  readonly from: string | null;
  readonly to: string;
  /** The type of the event that made the step. */
  readonly event: string;
  /** ms since the epoch. */
  readonly at: number;
}

/** What the page shows of one bot; every text already redacted. */
export interface BotView {
  readonly id: number;
  readonly name: string;
  /** The connection machine's current leaf state, e.g. `open`. */
  readonly currentState: string;
  /** SVG of each machine's diagram; undefined when the bot's actor was not seen. */
  readonly connection: string | undefined;
  readonly outbox: string | undefined;
  readonly log: readonly LogEntry[];
  readonly context: string;
  readonly health: string;
}

/** The HTML of one bot's section. */
export function botSection(view: BotView): string {
  const figure = (machine: 'connection' | 'outbox', svg: string | undefined) =>
    `<figure class="machine" data-testid="diagram-${machine}" data-machine="${machine}"><figcaption>${machine} machine</figcaption>` +
    `<div class="scroll">${svg ?? '<p class="missing">not seen: this machine did not report to the inspector</p>'}</div></figure>`;
  return (
    `<section class="bot" data-testid="bot" data-bot-id="${view.id}" data-bot-name="${esc(view.name)}">` +
    `<header><h2 class="bot-name">${esc(view.name)}</h2>` +
    `<p class="now">connection: <b data-testid="current-state">${esc(view.currentState)}</b></p></header>` +
    `<div class="diagrams">${figure('connection', view.connection)}${figure('outbox', view.outbox)}</div>` +
    '<div class="panels">' +
    `<div class="panel"><h3>Transitions</h3><ol class="log" data-testid="transition-log">${view.log.map(logLine).join('')}</ol></div>` +
    `<div class="panel"><h3>Health</h3><pre data-testid="health">${esc(view.health)}</pre></div>` +
    `<div class="panel"><h3>Context</h3><pre data-testid="context">${esc(view.context)}</pre></div>` +
    '</div></section>'
  );
}

/** The HTML of one line of the transition log (the page's script builds the same). */
export function logLine(entry: LogEntry): string {
  return (
    `<li data-machine="${entry.machine}" data-from="${esc(entry.from ?? '')}" data-to="${esc(entry.to)}" data-event="${esc(entry.event)}">` +
    `<time datetime="${new Date(entry.at).toISOString()}">${clock(entry.at)}</time> <span class="machine">${entry.machine}</span> ` +
    `<span class="from">${esc(entry.from ?? '(start)')}</span> → <span class="to">${esc(entry.to)}</span> <code class="event">${esc(entry.event)}</code></li>`
  );
}

/** `HH:MM:SS.mmm` (UTC), as the page's script writes it too. */
function clock(at: number): string {
  return new Date(at).toISOString().slice(11, 23);
}

/** The whole page, with the sections of the bots attached so far. */
export function page(sections: readonly string[]): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sparkbot inspect</title>
<style>${CSS}</style>
</head>
<body>
${ARROW_DEFS}
<header class="top"><h1>sparkbot inspect</h1><span id="status" class="status">connecting…</span></header>
<main id="bots">${sections.length > 0 ? sections.join('\n') : EMPTY}</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

const EMPTY = '<p class="empty">No bot yet: pass this inspector as a bot\'s <code>inspect</code> option.</p>';

/** The page's Content-Security-Policy: nothing but itself (its inline style and script, and its own /events). */
export const CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'";

const CSS = `
:root { color-scheme: light; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; background: #fff; }
body { margin: 0 16px 24px; }
.top { display: flex; align-items: baseline; gap: 12px; }
.top h1 { font-size: 18px; margin: 12px 0; }
.status { font-size: 12px; padding: 1px 8px; border-radius: 10px; background: #eaeef2; }
.status.live { background: #dafbe1; color: #1a7f37; }
.status.closed { background: #ffebe9; color: #cf222e; }
.empty { color: #57606a; }
.bot { border: 1px solid #d0d7de; border-radius: 8px; padding: 8px 16px 16px; margin: 12px 0; }
.bot > header { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; }
.bot h2 { font-size: 16px; margin: 8px 0; }
.now { margin: 0; }
.now b { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
.diagrams { display: flex; flex-wrap: wrap; gap: 16px; }
.machine { margin: 0; min-width: 0; max-width: 100%; }
.machine figcaption { font-weight: 600; margin: 4px 0; }
.scroll { overflow: auto; max-height: 80vh; border: 1px solid #eaeef2; border-radius: 6px; }
.missing { color: #57606a; padding: 8px; margin: 0; }
.diagram text { font: 11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; fill: #1f2328; }
.diagram .name { font-size: 12px; }
.state .box { fill: #f6f8fa; stroke: #8c959f; stroke-width: 1; }
.state.compound > .box { fill: #ddf4ff40; stroke: #54aeff; }
.state.any .box { fill: none; stroke-dasharray: 4 3; }
.state .inner { fill: none; stroke: #8c959f; }
.lifeline { stroke: #afb8c1; stroke-dasharray: 2 4; }
.initial { fill: #1f2328; }
.state.active > .box { stroke: #1a7f37; stroke-width: 2; }
.state.current > .box { fill: #2da44e; stroke: #1a7f37; stroke-width: 2; }
.state.current > .name { fill: #fff; font-weight: 700; }
.state.current > .lifeline { stroke: #2da44e; stroke-dasharray: none; stroke-width: 2; }
.edge path { fill: none; stroke: #57606a; stroke-width: 1.2; marker-end: url(#sparkbot-arrow); }
.edge text { paint-order: stroke; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; }
.edge.taken path { stroke: #cf222e; stroke-width: 2.4; marker-end: url(#sparkbot-arrow-taken); }
.edge.taken text { fill: #cf222e; font-weight: 700; }
.panels { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 16px; margin-top: 12px; }
.panel h3 { font-size: 14px; margin: 4px 0; }
.panel pre, .log { margin: 0; max-height: 320px; overflow: auto; border: 1px solid #eaeef2; border-radius: 6px; padding: 6px 8px; background: #f6f8fa; font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.log { list-style: none; }
.log li { white-space: nowrap; }
.log time { color: #57606a; }
.log .machine { color: #8250df; }
.log li[data-machine="outbox"] .machine { color: #bc4c00; }
.log .to { font-weight: 700; }
.log .event { color: #57606a; }
`;

/** The page's script: follows /events (see index.ts for the events and their data). */
const SCRIPT = `
(() => {
  'use strict';
  const MAX_LOG = 200;
  const bots = document.getElementById('bots');
  const status = document.getElementById('status');
  const setStatus = (text, cls) => { status.textContent = text; status.className = 'status ' + cls; };
  const sectionOf = (id) => bots.querySelector('section[data-bot-id="' + id + '"]');
  const clock = (at) => new Date(at).toISOString().slice(11, 23);
  const setText = (el, text) => { if (el && el.textContent !== text) el.textContent = text; };
  const byTestId = (root, id) => root.querySelector('[data-testid="' + id + '"]');

  function refresh(section, data) {
    if (typeof data.name === 'string') {
      section.setAttribute('data-bot-name', data.name);
      setText(section.querySelector('.bot-name'), data.name);
    }
    if (typeof data.currentState === 'string') setText(byTestId(section, 'current-state'), data.currentState);
    if (typeof data.context === 'string') setText(byTestId(section, 'context'), data.context);
    if (typeof data.health === 'string') setText(byTestId(section, 'health'), data.health);
  }

  function light(section, data) {
    const figure = byTestId(section, 'diagram-' + data.machine);
    if (!figure) return;
    const current = new Set(data.current), active = new Set(data.active), taken = new Set(data.taken);
    for (const el of figure.querySelectorAll('[data-testid="state"]')) {
      const path = el.getAttribute('data-state');
      const on = current.has(path);
      el.classList.toggle('current', on);
      el.setAttribute('data-current', String(on));
      el.classList.toggle('active', active.has(path));
    }
    for (const el of figure.querySelectorAll('[data-transition]')) el.classList.toggle('taken', taken.has(el.getAttribute('data-transition')));
    // A diagram wider than its frame (the emulator's side panel) scrolls the lit state into view.
    // (Only the diagram's own box scrolls, sideways: never the page, nor a page that frames it.)
    const lit = figure.querySelector('[data-testid="state"].current');
    let box = figure;
    while (box && box !== section && box.scrollWidth <= box.clientWidth) box = box.parentElement;
    if (lit && box && box !== section) {
      const at = lit.getBoundingClientRect(), frame = box.getBoundingClientRect();
      if (at.left < frame.left || at.right > frame.right) box.scrollLeft += at.left + at.width / 2 - (frame.left + frame.width / 2);
    }
  }

  function append(section, entry) {
    const list = byTestId(section, 'transition-log');
    if (!list) return;
    const stick = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
    const li = document.createElement('li');
    li.setAttribute('data-machine', entry.machine);
    li.setAttribute('data-from', entry.from === null ? '' : entry.from);
    li.setAttribute('data-to', entry.to);
    li.setAttribute('data-event', entry.event);
    const part = (tag, cls, text) => { const el = document.createElement(tag); if (cls) el.className = cls; el.textContent = text; return el; };
    const time = part('time', '', clock(entry.at));
    time.setAttribute('datetime', new Date(entry.at).toISOString());
    li.append(time, ' ', part('span', 'machine', entry.machine), ' ', part('span', 'from', entry.from === null ? '(start)' : entry.from), ' → ', part('span', 'to', entry.to), ' ', part('code', 'event', entry.event));
    list.append(li);
    while (list.children.length > MAX_LOG) list.firstElementChild.remove();
    if (stick) list.scrollTop = list.scrollHeight;
  }

  const source = new EventSource('events');
  source.onopen = () => setStatus('live', 'live');
  source.onerror = () => { if (source.readyState !== EventSource.CLOSED) setStatus('reconnecting…', ''); };
  source.addEventListener('bot', (message) => {
    const data = JSON.parse(message.data);
    const template = document.createElement('template');
    template.innerHTML = data.html;
    const fresh = template.content.firstElementChild;
    if (!fresh) return;
    const old = sectionOf(data.id);
    if (old) {
      const list = byTestId(old, 'transition-log');
      const scroll = list ? list.scrollTop : 0;
      old.replaceWith(fresh);
      const next = byTestId(fresh, 'transition-log');
      if (next) next.scrollTop = scroll || next.scrollHeight;
    } else {
      const empty = bots.querySelector('.empty');
      if (empty) empty.remove();
      bots.append(fresh);
      const list = byTestId(fresh, 'transition-log');
      if (list) list.scrollTop = list.scrollHeight;
    }
  });
  source.addEventListener('state', (message) => {
    const data = JSON.parse(message.data);
    const section = sectionOf(data.bot);
    if (!section) return;
    light(section, data);
    append(section, data.entry);
    refresh(section, data);
  });
  source.addEventListener('update', (message) => {
    const data = JSON.parse(message.data);
    const section = sectionOf(data.bot);
    if (section) refresh(section, data);
  });
  source.addEventListener('close', () => {
    source.close();
    setStatus('closed', 'closed');
  });
})();
`;
