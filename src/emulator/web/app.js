// Webex in a box: the emulator's chat page. Plain ES module, no framework, no build step; it talks
// only to the emulator that served it (/ui/api/… and the event stream /ui/events), never with a token.

const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;

/** An element: `h('li', { class: 'x', 'data-testid': 'y', onclick }, child, 'text')`. */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) if (child !== undefined && child !== null && child !== false) node.append(child);
  return node;
}

const state = {
  me: localStorage.getItem('sparkbot-ui:me') || '',
  people: [],
  rooms: [],
  roomId: localStorage.getItem('sparkbot-ui:room') || '',
  /** The current room's messages, by id, in order. */
  messages: new Map(),
  replyTo: null,
  unread: new Map(),
  devices: [],
  device: '',
  log: [],
  inspectors: [],
  inspector: null,
  faults: { frozen: false, rest429: false },
};

// ---------------------------------------------------------------- API

async function api(path, { method = 'GET', body, form } = {}) {
  const headers = { 'x-sparkbot-ui': '1' };
  let payload;
  if (form) payload = form;
  else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const response = await fetch(`/ui/api/${path}`, { method, headers, body: payload });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.message || `HTTP ${response.status}`);
  return data;
}

function status(text, error = false) {
  const node = $('composer-status');
  node.textContent = text;
  node.classList.toggle('error', error);
}

const later = (fn, ms = 60) => {
  let timer;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
};

// ---------------------------------------------------------------- people and identity

async function loadPeople() {
  state.people = (await api('people')).items;
  const users = state.people.filter((p) => p.type === 'person');
  if (!users.some((p) => p.id === state.me)) state.me = users[0]?.id ?? '';
  const select = $('identity');
  select.replaceChildren(
    ...(users.length === 0 ? [h('option', { value: '', text: '— nobody yet: add a person —' })] : []),
    ...users.map((p) => h('option', { value: p.id, 'data-person-id': p.id, selected: p.id === state.me, text: p.displayName })),
  );
  renderPeople();
  renderNewRoomMembers();
}

function person(id) {
  return state.people.find((p) => p.id === id);
}

function renderPeople() {
  $('people-list').replaceChildren(
    ...state.people
      .filter((p) => p.id !== state.me)
      .map((p) =>
        h(
          'li',
          {},
          h(
            'button',
            { type: 'button', 'data-testid': 'person-item', 'data-person-id': p.id, title: `Message ${p.displayName} (${p.email})`, onclick: () => openDirect(p.id) },
            avatar(p.displayName, p.type, 20),
            h('span', { text: p.displayName }),
            p.type === 'bot' ? h('span', { class: 'tag', text: 'bot' }) : null,
          ),
        ),
      ),
  );
}

function renderNewRoomMembers() {
  const box = $('new-room-members');
  box.replaceChildren(
    h('legend', { text: 'Members' }),
    ...state.people
      .filter((p) => p.id !== state.me)
      .map((p) => h('label', {}, h('input', { type: 'checkbox', value: p.id, 'data-testid': 'new-room-member', 'data-person-id': p.id }), p.displayName, p.type === 'bot' ? h('span', { class: 'tag', text: 'bot' }) : null)),
  );
}

async function setMe(id) {
  state.me = id;
  localStorage.setItem('sparkbot-ui:me', id);
  state.unread.clear();
  renderPeople();
  renderNewRoomMembers();
  await loadRooms();
}

// ---------------------------------------------------------------- rooms

async function loadRooms() {
  if (!state.me) {
    state.rooms = [];
    renderRooms();
    await openRoom('');
    return;
  }
  state.rooms = (await api(`rooms?as=${enc(state.me)}`)).items;
  renderRooms();
  const keep = state.rooms.some((r) => r.id === state.roomId) ? state.roomId : (state.rooms[0]?.id ?? '');
  if (keep !== state.roomId || state.messages.size === 0) await openRoom(keep);
  else renderHeader();
}

const currentRoom = () => state.rooms.find((r) => r.id === state.roomId);

function renderRooms() {
  $('room-list').replaceChildren(
    ...state.rooms.map((room) => {
      const unread = state.unread.get(room.id) ?? 0;
      const others = room.members.filter((m) => m.id !== state.me).map((m) => m.displayName);
      return h(
        'li',
        {
          class: `room-item${room.id === state.roomId ? ' active' : ''}`,
          'data-testid': 'room-item',
          'data-room-id': room.id,
          'data-room-type': room.type,
          'data-unread': unread,
          title: room.title,
          onclick: () => openRoom(room.id),
        },
        h('span', { class: 'kind', text: room.type === 'direct' ? '●' : '#' }),
        h('span', { class: 'title', text: room.title }),
        unread ? h('span', { class: 'unread', text: String(unread) }) : h('span'),
        h('span', { class: 'sub', 'data-testid': 'room-item-members', text: others.join(', ') || 'only you' }),
      );
    }),
  );
}

function renderHeader() {
  const room = currentRoom();
  $('room-title').textContent = room ? (room.type === 'group' ? `# ${room.title}` : room.title) : state.me ? 'No room yet' : 'Nobody yet';
  $('room-members').replaceChildren(
    ...(room?.members ?? []).map((m) => h('span', { class: `member${m.type === 'bot' ? ' bot' : ''}`, 'data-testid': 'member', 'data-person-id': m.id, title: m.email, text: m.displayName })),
  );
  const form = $('add-member');
  const candidates = room?.type === 'group' ? state.people.filter((p) => !room.members.some((m) => m.id === p.id)) : [];
  form.hidden = candidates.length === 0;
  $('add-member-select').replaceChildren(...candidates.map((p) => h('option', { value: p.id, text: `${p.displayName}${p.type === 'bot' ? ' (bot)' : ''}` })));
  const composer = $('composer');
  composer.disabled = !room;
  $('send').disabled = !room;
  composer.placeholder = !room ? 'Pick a room to write in' : room.type === 'group' ? `Message # ${room.title} — a bot sees only what @mentions it (type @)` : `Message ${room.title}`;
}

async function openRoom(id) {
  state.roomId = id;
  localStorage.setItem('sparkbot-ui:room', id);
  state.unread.delete(id);
  state.messages.clear();
  setReply(null);
  renderRooms();
  renderHeader();
  const list = $('message-list');
  if (!id) {
    list.replaceChildren(
      h('p', { class: 'empty', 'data-testid': 'empty' }, state.me ? 'Pick a person on the left to message them, or make a room with +.' : 'Add a person on the left: you will talk to the bots as them.'),
    );
    return;
  }
  const { items } = await api(`messages?as=${enc(state.me)}&roomId=${enc(id)}`);
  if (state.roomId !== id) return;
  for (const m of items) state.messages.set(m.id, m);
  renderMessages();
}

async function openDirect(personId) {
  try {
    const room = await api('direct', { method: 'POST', body: { as: state.me, with: personId } });
    await loadRooms();
    await openRoom(room.id);
    $('composer').focus();
  } catch (error) {
    status(error.message, true);
  }
}

// ---------------------------------------------------------------- messages

function renderMessages() {
  const list = $('message-list');
  list.replaceChildren();
  if (state.messages.size === 0) list.append(h('p', { class: 'empty', 'data-testid': 'empty', text: 'No messages yet. Say hello!' }));
  for (const m of state.messages.values()) place(m, false);
  list.scrollTop = list.scrollHeight;
}

/** Puts a message in the list: at the end, or in its parent's thread. */
function place(m, flash = true) {
  const list = $('message-list');
  list.querySelector(':scope > .empty')?.remove();
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const node = messageNode(m);
  if (flash) node.classList.add('flash');
  const existing = list.querySelector(`[data-testid="message"][data-message-id="${CSS.escape(m.id)}"]`);
  const parent = m.parentId ? list.querySelector(`:scope > [data-testid="message"][data-message-id="${CSS.escape(m.parentId)}"]`) : null;
  if (existing) {
    const thread = existing.querySelector(':scope > .main > [data-testid="thread"]');
    if (thread) node.querySelector(':scope > .main').append(thread);
    existing.replaceWith(node);
  } else if (parent) threadOf(parent).append(node);
  else list.append(node);
  if (nearBottom || !flash) list.scrollTop = list.scrollHeight;
}

function threadOf(parentNode) {
  const main = parentNode.querySelector(':scope > .main');
  let thread = main.querySelector(':scope > [data-testid="thread"]');
  if (!thread) {
    thread = h('div', { class: 'thread', 'data-testid': 'thread', 'data-parent-id': parentNode.dataset.messageId });
    main.append(thread);
  }
  return thread;
}

function hue(text) {
  let n = 0;
  for (const c of text) n = (n * 31 + c.codePointAt(0)) % 360;
  return n;
}

function avatar(name, type, size) {
  const initials = name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join('') || '?';
  const node = h('span', { class: 'avatar', 'aria-hidden': 'true', text: initials });
  node.style.background = `hsl(${hue(name)} 55% ${type === 'bot' ? 42 : 48}%)`;
  if (size) {
    node.style.cssText += `;width:${size}px;height:${size}px;border-radius:${type === 'bot' ? '5px' : '50%'};display:inline-grid;place-items:center;font-size:${Math.round(size / 2.4)}px;color:#fff;font-weight:600;flex:none`;
  }
  return node;
}

function messageNode(m) {
  const when = new Date(m.created);
  const text = h('div', { class: 'text', 'data-testid': 'message-text' });
  if (m.markdown) text.innerHTML = markdown(m.markdown);
  else if (m.text) text.append(...plain(m.text));
  highlightMentions(text, m.mentions.map((p) => p.displayName));
  const files = m.files.length || m.links.length
    ? h(
        'ul',
        { class: 'files' },
        ...m.files.map((f) =>
          h(
            'li',
            {},
            h(
              'a',
              { href: `/ui/api/contents?as=${enc(state.me)}&id=${enc(f.contentId)}`, download: f.name, 'data-testid': 'file-link', 'data-content-id': f.contentId, title: `${f.contentType}, ${f.size} bytes` },
              icon('file'),
              h('span', { text: f.name }),
              h('span', { class: 'size', text: size(f.size) }),
              f.scan === 'safe' ? null : h('span', { class: 'scan', text: f.scan }),
            ),
          ),
        ),
        ...m.links.map((url) => h('li', {}, h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', 'data-testid': 'file-link' }, icon('link'), url))),
      )
    : null;
  const cards = (m.attachments ?? []).filter((a) => a && a.contentType === 'application/vnd.microsoft.card.adaptive').map((a) => cardNode(a.content, m));
  const top = m.parentId ? m.parentId : m.id;
  return h(
    'article',
    { class: 'message', 'data-testid': 'message', 'data-message-id': m.id, 'data-author': m.author, 'data-author-id': m.personId, 'data-author-type': m.authorType, 'data-parent-id': m.parentId },
    avatar(m.author, m.authorType),
    h(
      'div',
      { class: 'main' },
      h(
        'div',
        { class: 'meta' },
        h('span', { class: 'author', text: m.author }),
        m.authorType === 'bot' ? h('span', { class: 'tag', text: 'bot' }) : null,
        h('time', { datetime: m.created, title: when.toLocaleString(), text: when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) }),
        h('button', { type: 'button', class: 'reply-button', 'data-testid': 'reply-button', title: 'Reply in the thread', onclick: () => setReply(state.messages.get(top) ?? m) }, 'Reply'),
      ),
      text,
      files,
      cards,
    ),
  );
}

const ICONS = {
  file: 'M4 1.5h5l3 3v10H4z M9 1.5v3h3',
  link: 'M6.5 9.5l3-3 M7 4.5l1-1a2.5 2.5 0 0 1 3.5 3.5l-1 1 M9 11.5l-1 1a2.5 2.5 0 0 1-3.5-3.5l1-1',
};

/** A small line icon (SVG, no font needed). */
function icon(name) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('width', '14');
  svg.setAttribute('height', '14');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  path.setAttribute('d', ICONS[name]);
  path.setAttribute('fill', 'none');
  path.setAttribute('stroke', 'currentColor');
  path.setAttribute('stroke-width', '1.3');
  path.setAttribute('stroke-linejoin', 'round');
  path.setAttribute('stroke-linecap', 'round');
  svg.append(path);
  return svg;
}

function size(bytes) {
  return bytes < 1024 ? `${bytes} B` : bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function plain(text) {
  const nodes = [];
  text.split('\n').forEach((line, i) => {
    if (i > 0) nodes.push(h('br'));
    let last = 0;
    for (const match of line.matchAll(/https?:\/\/[^\s<>"]+/g)) {
      nodes.push(line.slice(last, match.index));
      nodes.push(h('a', { href: match[0], target: '_blank', rel: 'noopener noreferrer', text: match[0] }));
      last = match.index + match[0].length;
    }
    nodes.push(line.slice(last));
  });
  return nodes;
}

/** Wraps each mentioned name (its first place in the text) in a highlight. */
function highlightMentions(root, names) {
  for (const name of [...new Set(names)].filter(Boolean).sort((a, b) => b.length - a.length)) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.parentElement?.closest('.mention, code, a')) continue;
      const at = node.data.indexOf(name);
      if (at < 0) continue;
      const rest = node.splitText(at);
      rest.splitText(name.length);
      rest.replaceWith(h('span', { class: 'mention', 'data-testid': 'mention', text: name }));
      break;
    }
  }
}

const escapeHtml = (text) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

/** Inline markdown on raw text: code spans, links, bold, italic, strike. Everything else is escaped. */
function inline(text) {
  return text
    .split(/(`[^`\n]+`)/g)
    .map((part, i) => {
      if (i % 2 === 1) return `<code>${escapeHtml(part.slice(1, -1))}</code>`;
      return escapeHtml(part)
        .replace(/\[([^\]]+)\]\(((?:https?:\/\/|mailto:)[^\s)]+)\)/g, '<a href="$2" target="_blank" rel="noopener noreferrer">$1</a>')
        .replace(/\*\*(.+?)\*\*|__(.+?)__/g, (_, a, b) => `<strong>${a ?? b}</strong>`)
        .replace(/(^|[^\w*])\*(?!\s)(.+?)\*(?!\w)/g, '$1<em>$2</em>')
        .replace(/(^|[^\w_])_(?!\s)(.+?)_(?!\w)/g, '$1<em>$2</em>')
        .replace(/~~(.+?)~~/g, '<del>$1</del>');
    })
    .join('');
}

/** A small, safe markdown: paragraphs, headings, lists, quotes, code blocks, and the inline forms. */
function markdown(source) {
  const lines = String(source).replace(/\r\n?/g, '\n').split('\n');
  const out = [];
  const isBlock = (line) => /^```|^\s*$|^#{1,6}\s|^\s*[-*+]\s+|^\s*\d+[.)]\s+|^>\s?/.test(line);
  for (let i = 0; i < lines.length; ) {
    const line = lines[i];
    if (/^```/.test(line)) {
      const code = [];
      for (i += 1; i < lines.length && !/^```/.test(lines[i]); i += 1) code.push(lines[i]);
      i += 1;
      out.push(`<pre><code>${escapeHtml(code.join('\n'))}</code></pre>`);
    } else if (/^\s*$/.test(line)) i += 1;
    else if (/^#{1,6}\s/.test(line)) {
      out.push(`<p><strong>${inline(line.replace(/^#{1,6}\s+/, ''))}</strong></p>`);
      i += 1;
    } else if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
      const ordered = /^\s*\d/.test(line);
      const items = [];
      for (; i < lines.length && /^\s*([-*+]|\d+[.)])\s+/.test(lines[i]); i += 1) items.push(`<li>${inline(lines[i].replace(/^\s*([-*+]|\d+[.)])\s+/, ''))}</li>`);
      out.push(ordered ? `<ol>${items.join('')}</ol>` : `<ul>${items.join('')}</ul>`);
    } else if (/^>\s?/.test(line)) {
      const quoted = [];
      for (; i < lines.length && /^>\s?/.test(lines[i]); i += 1) quoted.push(inline(lines[i].replace(/^>\s?/, '')));
      out.push(`<blockquote>${quoted.join('<br>')}</blockquote>`);
    } else {
      const para = [];
      for (; i < lines.length && (para.length === 0 || !isBlock(lines[i])); i += 1) para.push(inline(lines[i]));
      out.push(`<p>${para.join('<br>')}</p>`);
    }
  }
  return out.join('');
}

// ---------------------------------------------------------------- cards

const AC = window.AdaptiveCards;
if (AC) {
  AC.AdaptiveCard.onProcessMarkdown = (text, result) => {
    result.outputHtml = markdown(text);
    result.didProcess = true;
  };
}
const hostConfig = AC
  ? new AC.HostConfig({
      fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
      supportsInteractivity: true,
      spacing: { small: 4, default: 8, medium: 16, large: 24, extraLarge: 32, padding: 12 },
      separator: { lineThickness: 1, lineColor: '#E3E5E8' },
      fontSizes: { small: 12, default: 14, medium: 16, large: 19, extraLarge: 23 },
      fontWeights: { lighter: 300, default: 400, bolder: 600 },
      imageSizes: { small: 40, medium: 80, large: 160 },
      actions: { maxActions: 6, spacing: 'default', buttonSpacing: 8, showCard: { actionMode: 'inline', inlineTopMargin: 12 }, actionsOrientation: 'horizontal', actionAlignment: 'left' },
      containerStyles: {
        default: {
          backgroundColor: '#FFFFFF',
          foregroundColors: {
            default: { default: '#1F2328', subtle: '#6A737D' },
            accent: { default: '#0B63C5', subtle: '#0B63C5' },
            good: { default: '#1A7F37', subtle: '#1A7F37' },
            warning: { default: '#9A6700', subtle: '#9A6700' },
            attention: { default: '#C62828', subtle: '#C62828' },
            light: { default: '#6A737D', subtle: '#6A737D' },
            dark: { default: '#1F2328', subtle: '#1F2328' },
          },
        },
        emphasis: { backgroundColor: '#F4F5F7', foregroundColors: { default: { default: '#1F2328', subtle: '#6A737D' } } },
      },
    })
  : undefined;

function cardNode(content, m) {
  const box = h('div', { class: 'card', 'data-testid': 'card', 'data-message-id': m.id });
  const statusLine = h('div', { class: 'card-status', 'data-testid': 'card-status' });
  if (!AC) {
    box.append(h('p', { text: 'The Adaptive Cards renderer did not load.' }));
    return [box, statusLine];
  }
  try {
    const card = new AC.AdaptiveCard();
    card.hostConfig = hostConfig;
    card.onExecuteAction = (action) => {
      const type = action.getJsonTypeName();
      if (type === 'Action.OpenUrl') window.open(action.url, '_blank', 'noopener,noreferrer');
      else if (type === 'Action.Submit' || type === 'Action.Execute') void submit(m, action, statusLine);
    };
    card.parse(content);
    const rendered = card.render();
    if (rendered) box.append(rendered);
  } catch (error) {
    box.append(h('p', { text: `This card could not be rendered: ${error.message}` }));
  }
  return [box, statusLine];
}

async function submit(m, action, statusLine) {
  const data = action.data;
  const inputs = data && typeof data === 'object' && !Array.isArray(data) ? data : data === undefined ? {} : { data };
  statusLine.classList.remove('error');
  statusLine.textContent = `Sending ${action.title ? `“${action.title}”` : 'the card'}…`;
  try {
    await api('submit', { method: 'POST', body: { as: state.me, messageId: m.id, inputs } });
    statusLine.textContent = `Submitted${action.title ? ` “${action.title}”` : ''}`;
  } catch (error) {
    statusLine.classList.add('error');
    statusLine.textContent = error.message;
  }
}

// ---------------------------------------------------------------- composer

function setReply(message) {
  state.replyTo = message ? (message.parentId ?? message.id) : null;
  $('reply-banner').hidden = !message;
  if (message) {
    const snippet = (message.text ?? message.markdown ?? (message.files.length ? message.files[0].name : 'a card')).replace(/\s+/g, ' ').slice(0, 80);
    $('reply-text').textContent = `Replying to ${message.author}: ${snippet}`;
    $('composer').focus();
  }
}

let suggestions = [];
let suggestionAt = 0;

function updateSuggestions() {
  const box = $('mention-suggestions');
  const composer = $('composer');
  const room = currentRoom();
  const before = composer.value.slice(0, composer.selectionStart);
  const match = /(^|[^\w@])@([^@\n]{0,40})$/.exec(before);
  suggestions = [];
  if (room && room.type === 'group' && match) {
    const query = match[2].toLowerCase();
    const others = room.members.filter((p) => p.id !== state.me);
    // A name typed out in full needs no suggestion: Enter sends.
    if (!others.some((p) => p.displayName === match[2])) suggestions = others.filter((p) => p.displayName.toLowerCase().startsWith(query));
  }
  box.hidden = suggestions.length === 0;
  suggestionAt = Math.min(suggestionAt, Math.max(0, suggestions.length - 1));
  box.replaceChildren(
    ...suggestions.map((p, i) =>
      h(
        'button',
        { type: 'button', role: 'option', 'aria-selected': i === suggestionAt ? 'true' : 'false', 'data-testid': 'mention-option', 'data-person-id': p.id, onmousedown: (e) => e.preventDefault(), onclick: () => pickMention(p) },
        avatar(p.displayName, p.type, 20),
        p.displayName,
        p.type === 'bot' ? h('span', { class: 'tag', text: 'bot' }) : null,
      ),
    ),
  );
}

function pickMention(p) {
  const composer = $('composer');
  const caret = composer.selectionStart;
  const before = composer.value.slice(0, caret).replace(/@([^@\n]{0,40})$/, `@${p.displayName} `);
  composer.value = before + composer.value.slice(caret);
  composer.selectionStart = composer.selectionEnd = before.length;
  composer.focus();
  updateSuggestions();
}

async function send(event) {
  event?.preventDefault();
  const composer = $('composer');
  const fileInput = $('file-input');
  const room = currentRoom();
  const value = composer.value;
  const file = fileInput.files[0];
  if (!room || (!value.trim() && !file)) return;
  $('send').disabled = true;
  status('');
  try {
    let message;
    if (file) {
      const form = new FormData();
      form.append('as', state.me);
      form.append('roomId', room.id);
      form.append('text', value);
      form.append('file', file, file.name);
      message = await api('files', { method: 'POST', form });
    } else {
      const body = { as: state.me, roomId: room.id };
      if ($('markdown-toggle').checked) body.markdown = value;
      else body.text = value;
      if (state.replyTo) body.parentId = state.replyTo;
      message = await api('messages', { method: 'POST', body });
    }
    composer.value = '';
    fileInput.value = '';
    $('file-name').textContent = '';
    setReply(null);
    onMessage(message);
    if (room.type === 'group' && message.mentions.every((p) => person(p.id)?.type !== 'bot') && room.members.some((p) => p.type === 'bot')) {
      status('No bot was @mentioned: bots in a group room see only the messages that mention them.');
    }
  } catch (error) {
    status(error.message, true);
  } finally {
    $('send').disabled = !currentRoom();
    composer.focus();
  }
}

// ---------------------------------------------------------------- live updates

function onMessage(m) {
  const room = state.rooms.find((r) => r.id === m.roomId);
  if (!room) {
    if (state.me) refreshRooms();
    return;
  }
  room.lastActivity = m.created;
  if (m.roomId === state.roomId) {
    const known = state.messages.has(m.id);
    state.messages.set(m.id, m);
    if (!known) place(m);
  } else if (m.personId !== state.me) {
    state.unread.set(m.roomId, (state.unread.get(m.roomId) ?? 0) + 1);
  }
  state.rooms.sort((a, b) => b.lastActivity.localeCompare(a.lastActivity));
  renderRooms();
}

const refreshRooms = later(() => loadRooms().catch((e) => status(e.message, true)));
const refreshPeople = later(async () => {
  const before = state.me;
  try {
    await loadPeople();
    if (state.me !== before) await setMe(state.me);
    else renderHeader();
  } catch (error) {
    status(error.message, true);
  }
});
const refreshDevices = later(() => loadDevices().catch(() => undefined), 100);

function connect() {
  const events = new EventSource('/ui/events');
  let opened = false;
  events.addEventListener('hello', (e) => {
    $('connection-status').dataset.live = 'true';
    $('connection-status').textContent = 'live';
    state.faults = JSON.parse(e.data).faults;
    renderFaults();
    if (opened) void reloadAll(); // back after a restart or a lost link: catch up
    opened = true;
  });
  events.addEventListener('error', () => {
    $('connection-status').dataset.live = 'false';
    $('connection-status').textContent = 'reconnecting';
  });
  events.addEventListener('message', (e) => onMessage(JSON.parse(e.data)));
  events.addEventListener('messageUpdated', (e) => {
    const m = JSON.parse(e.data);
    if (m.roomId !== state.roomId || !state.messages.has(m.id)) return;
    state.messages.set(m.id, m);
    place(m, false);
  });
  events.addEventListener('messageDeleted', (e) => {
    const { id, roomId } = JSON.parse(e.data);
    if (roomId !== state.roomId) return;
    state.messages.delete(id);
    document.querySelector(`[data-testid="message"][data-message-id="${CSS.escape(id)}"]`)?.remove();
  });
  events.addEventListener('cardAction', (e) => {
    const action = JSON.parse(e.data);
    const line = document.querySelector(`[data-testid="card"][data-message-id="${CSS.escape(action.messageId ?? '')}"] + [data-testid="card-status"]`);
    if (line && action.personId !== state.me) line.textContent = `${action.who ?? 'Someone'} submitted`;
  });
  events.addEventListener('rooms', refreshRooms);
  events.addEventListener('people', refreshPeople);
  events.addEventListener('devices', refreshDevices);
  events.addEventListener('log', (e) => addLog(JSON.parse(e.data)));
  events.addEventListener('inspectors', (e) => {
    state.inspectors = JSON.parse(e.data).items;
    renderMachines();
  });
  events.addEventListener('faults', (e) => {
    state.faults = JSON.parse(e.data);
    renderFaults();
  });
}

// ---------------------------------------------------------------- devices, activity log, faults

async function loadDevices() {
  state.devices = (await api('devices')).items;
  const select = $('device-select');
  if (state.device && !state.devices.some((d) => d.uuid === state.device)) state.device = '';
  select.replaceChildren(
    h('option', { value: '', text: 'All devices' }),
    ...state.devices.map((d) =>
      h('option', { value: d.uuid, 'data-device-uuid': d.uuid, selected: d.uuid === state.device, text: `${d.owner ?? '?'} · ${d.uuid.slice(0, 8)} · ${d.open ? (d.ready ? 'open' : 'opening') : `closed${d.lastClose ? ` ${d.lastClose}` : ''}`}` }),
    ),
  );
}

function ownerOfDevice(uuid) {
  return state.devices.find((d) => d.uuid === uuid)?.ownerId;
}

function shown(entry) {
  if (!state.device) return true;
  if (entry.deviceUuid) return entry.deviceUuid === state.device;
  return !entry.personId || entry.personId === ownerOfDevice(state.device);
}

function logNode(entry) {
  const at = new Date(entry.at);
  const time = `${at.toLocaleTimeString([], { hour12: false })}.${String(at.getMilliseconds()).padStart(3, '0')}`;
  return h(
    'li',
    { 'data-testid': 'log-entry', 'data-kind': entry.kind, 'data-device-uuid': entry.deviceUuid },
    h('span', { class: 'at', text: `${time} ` }),
    entry.who ? h('span', { class: 'who', text: `${entry.who} ` }) : null,
    h('span', { class: 'what', text: entry.text }),
  );
}

function addLog(entry) {
  state.log.push(entry);
  if (state.log.length > 2000) state.log.splice(0, state.log.length - 2000);
  if (!shown(entry)) return;
  const list = $('activity-log');
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(logNode(entry));
  while (list.childElementCount > 1000) list.firstElementChild.remove();
  if (nearBottom) list.scrollTop = list.scrollHeight;
}

function renderLog() {
  const list = $('activity-log');
  list.replaceChildren(...state.log.filter(shown).slice(-1000).map(logNode));
  list.scrollTop = list.scrollHeight;
}

function renderFaults() {
  const freeze = $('fault-freeze');
  freeze.setAttribute('aria-pressed', String(state.faults.frozen));
  freeze.textContent = state.faults.frozen ? 'Frozen: unfreeze' : 'Freeze';
  $('fault-429').classList.toggle('armed', state.faults.rest429);
  $('fault-429').textContent = state.faults.rest429 ? '429 armed…' : 'Next REST → 429';
}

async function fault(path, body = {}) {
  try {
    const answer = await api(`faults/${path}`, { method: 'POST', body });
    if ('frozen' in answer) {
      state.faults = answer;
      renderFaults();
    }
  } catch (error) {
    status(error.message, true);
  }
}

// ---------------------------------------------------------------- machine panel

function renderMachines() {
  const panel = document.querySelector('[data-testid="machine-panel"]');
  const tabs = $('machine-tabs');
  const body = $('machine-body');
  const entries = state.inspectors;
  panel.classList.toggle('has-views', entries.length > 0);
  if (!entries.some((e) => e.url === state.inspector)) state.inspector = entries[0]?.url ?? null;
  tabs.replaceChildren(
    ...entries.map((e) =>
      h('button', { type: 'button', role: 'tab', 'data-testid': 'machine-tab', 'data-url': e.url, 'aria-selected': e.url === state.inspector ? 'true' : 'false', title: e.url, onclick: () => ((state.inspector = e.url), renderMachines()) }, e.name),
    ),
  );
  const frame = body.querySelector('iframe');
  if (!state.inspector) {
    body.replaceChildren(
      h('p', { class: 'hint' }, 'No machine view yet. A bot started with ', h('code', { text: 'inspect: localInspector()' }), ' and registered with ', h('code', { text: 'emulator.addInspector({ name, url })' }), ' shows its live state machine here.'),
    );
  } else if (!frame || frame.dataset.url !== state.inspector) {
    const entry = entries.find((e) => e.url === state.inspector);
    body.replaceChildren(h('iframe', { src: state.inspector, 'data-url': state.inspector, 'data-testid': 'machine-frame', title: `Machine view: ${entry?.name ?? ''}` }));
  }
}

// ---------------------------------------------------------------- start

async function reloadAll() {
  await loadPeople();
  await setMe(state.me);
  await loadDevices();
  state.log = (await api('log')).items;
  renderLog();
  state.inspectors = (await api('inspectors')).items;
  renderMachines();
}

function wire() {
  $('identity').addEventListener('change', (e) => void setMe(e.target.value));
  $('new-user').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('new-user-name');
    const displayName = input.value.trim();
    if (!displayName) return;
    try {
      const created = await api('people', { method: 'POST', body: { displayName } });
      input.value = '';
      state.me = created.id;
      await loadPeople();
      await setMe(created.id);
    } catch (error) {
      status(error.message, true);
    }
  });
  $('new-room-toggle').addEventListener('click', () => {
    const form = $('new-room-form');
    form.hidden = !form.hidden;
    $('new-room-toggle').setAttribute('aria-expanded', String(!form.hidden));
    if (!form.hidden) $('new-room-title').focus();
  });
  $('new-room-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const title = $('new-room-title').value.trim();
    if (!title || !state.me) return;
    const members = [...document.querySelectorAll('#new-room-members input:checked')].map((input) => input.value);
    try {
      const room = await api('rooms', { method: 'POST', body: { as: state.me, title, members } });
      $('new-room-form').reset();
      $('new-room-form').hidden = true;
      await loadRooms();
      await openRoom(room.id);
    } catch (error) {
      status(error.message, true);
    }
  });
  $('add-member').addEventListener('submit', async (e) => {
    e.preventDefault();
    const personId = $('add-member-select').value;
    if (!personId) return;
    try {
      await api('members', { method: 'POST', body: { as: state.me, roomId: state.roomId, personId } });
      await loadRooms();
    } catch (error) {
      status(error.message, true);
    }
  });
  $('composer-form').addEventListener('submit', send);
  const composer = $('composer');
  composer.addEventListener('input', updateSuggestions);
  composer.addEventListener('click', updateSuggestions);
  composer.addEventListener('blur', () => setTimeout(() => ($('mention-suggestions').hidden = true), 150));
  composer.addEventListener('keydown', (e) => {
    if (suggestions.length && !$('mention-suggestions').hidden) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        suggestionAt = (suggestionAt + (e.key === 'ArrowDown' ? 1 : suggestions.length - 1)) % suggestions.length;
        updateSuggestions();
        return;
      }
      if (e.key === 'Enter' || e.key === 'Tab') {
        e.preventDefault();
        pickMention(suggestions[suggestionAt]);
        return;
      }
      if (e.key === 'Escape') {
        $('mention-suggestions').hidden = true;
        return;
      }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) void send(e);
    if (e.key === 'Escape' && state.replyTo) setReply(null);
  });
  $('reply-cancel').addEventListener('click', () => setReply(null));
  $('file-input').addEventListener('change', (e) => {
    $('file-name').textContent = e.target.files[0]?.name ?? '';
  });
  $('device-select').addEventListener('change', (e) => {
    state.device = e.target.value;
    renderLog();
  });
  $('fault-drop').addEventListener('click', () => fault('drop', state.device ? { deviceUuid: state.device } : {}));
  $('fault-restart').addEventListener('click', () => fault('restart', state.device ? { deviceUuid: state.device } : {}));
  $('fault-freeze').addEventListener('click', () => fault('freeze', { on: !state.faults.frozen }));
  $('fault-429').addEventListener('click', () => fault('429'));
}

wire();
connect();
reloadAll().catch((error) => status(error.message, true));
