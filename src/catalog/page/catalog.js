// The catalog page. Plain browser JavaScript, no dependencies, no inline handlers (the CSP forbids them).
// Text goes in with textContent only: names, messages and tool descriptions come from the cluster.

const TOKEN_KEY = 'mcp-operator-catalog-token';
const servers = new Map();
/** The client tab chosen per server, kept across live re-renders. */
const chosenClient = new Map();
let retryTimer;

const $ = (id) => document.getElementById(id);
const keyOf = (e) => `${e.kind}/${e.namespace}/${e.name}`;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function setLive(state, text) {
  const live = $('live');
  live.dataset.state = state;
  live.textContent = text;
}

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { authorization: `Bearer ${token}` } : {};
}

function apply(event, data) {
  if (event === 'snapshot') {
    servers.clear();
    for (const s of data.servers) servers.set(keyOf(s), s);
  } else if (event === 'upsert') servers.set(keyOf(data), data);
  else if (event === 'delete') servers.delete(keyOf(data));
  scheduleRender();
}

/**
 * Changes come in bursts (a controller restart rewrites every status) and a render rebuilds every card: with
 * thousands of servers, one render per change froze the page. At most one render per RENDER_EVERY_MS.
 */
const RENDER_EVERY_MS = 200;
let renderTimer;
let lastRender = 0;
function scheduleRender() {
  if (renderTimer !== undefined) return;
  renderTimer = setTimeout(
    () => {
      renderTimer = undefined;
      lastRender = Date.now();
      render();
    },
    Math.max(0, lastRender + RENDER_EVERY_MS - Date.now()),
  );
}

/** Server-sent events over fetch (EventSource cannot send an Authorization header). */
async function connect() {
  clearTimeout(retryTimer);
  setLive('connecting', 'connecting…');
  let headers;
  try {
    headers = new Headers({ accept: 'text/event-stream', ...authHeaders() });
  } catch {
    // fetch would refuse it on every retry, silently: say so instead and ask again.
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin(
      'That token holds a character a header cannot carry (a line break or a non-Latin-1 character, often copied along with it): paste it again.',
    );
    setLive('offline', 'sign in to see the servers');
    return;
  }
  let res;
  try {
    res = await fetch('api/events', { headers });
  } catch {
    return retry();
  }
  if (res.status === 401) {
    const body = await res.json().catch(() => ({}));
    showLogin(sessionStorage.getItem(TOKEN_KEY) ? body.error || 'the token was refused' : '');
    setLive('offline', 'sign in to see the servers');
    return;
  }
  if (!res.ok || !res.body) return retry();
  $('login').hidden = true;
  setLive('live', 'live');
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        if (data.length) apply(event, JSON.parse(data.join('\n')));
        end = buffer.indexOf('\n\n');
      }
    }
  } catch {
    // the stream broke: reconnect below
  }
  retry();
}

function retry() {
  setLive('offline', 'reconnecting…');
  retryTimer = setTimeout(connect, 2000);
}

function showLogin(error) {
  $('login').hidden = false;
  $('login-error').textContent = error;
  $('token').focus();
}

function matches(entry, query, namespace) {
  if (namespace && entry.namespace !== namespace) return false;
  if (!query) return true;
  const haystack = [entry.name, entry.namespace, entry.title, entry.description, entry.registryName]
    .concat(entry.tools.map((t) => `${t.name} ${t.description || ''}`))
    .join(' ')
    .toLowerCase();
  return haystack.includes(query);
}

function renderNamespaces(all) {
  const select = $('namespace');
  const chosen = select.value;
  const namespaces = [...new Set(all.map((e) => e.namespace))].sort();
  select.replaceChildren(el('option', { value: '', text: 'All namespaces' }));
  for (const ns of namespaces) select.append(el('option', { value: ns, text: ns }));
  select.value = namespaces.includes(chosen) ? chosen : '';
}

function snippetBlock(entry) {
  if (!entry.snippets.length)
    return el('p', { class: 'no-url', text: 'No URL yet: the operator has not published one.' });
  const key = keyOf(entry);
  const chosen = entry.snippets.find((s) => s.client === chosenClient.get(key)) || entry.snippets[0];
  const tabs = el('div', { class: 'tabs', role: 'tablist' });
  for (const s of entry.snippets) {
    const tab = el('button', {
      type: 'button',
      role: 'tab',
      'data-client': s.client,
      'aria-selected': s.client === chosen.client ? 'true' : 'false',
      text: s.label,
    });
    tab.addEventListener('click', () => {
      chosenClient.set(key, s.client);
      render();
    });
    tabs.append(tab);
  }
  const copy = el('button', { type: 'button', class: 'copy', text: 'Copy' });
  copy.addEventListener('click', () => {
    navigator.clipboard?.writeText(chosen.text).then(
      () => {
        copy.textContent = 'Copied';
      },
      () => {
        copy.textContent = 'Select and copy';
      },
    );
  });
  const panel = el(
    'div',
    { class: 'snippet', role: 'tabpanel' },
    chosen.file ? el('div', { class: 'file', text: chosen.file }) : null,
    el('pre', { 'data-client': chosen.client }, el('code', { text: chosen.text })),
    copy,
  );
  return el('div', { class: 'snippets' }, tabs, panel);
}

function card(entry) {
  const endpoint = entry.endpoints.find((e) => e.type === 'streamable-http') || entry.endpoints[0];
  const facts = el('dl', { class: 'facts' });
  const fact = (label, value, cls) => facts.append(el('dt', { text: label }), el('dd', { class: cls, text: value }));
  fact('URL', endpoint ? endpoint.url : 'none yet', 'url');
  for (const e of entry.endpoints.filter((x) => x !== endpoint)) fact(`${e.scope} ${e.type}`, e.url, 'other-url');
  fact('Transport', entry.transport, 'transport');
  fact('Auth', entry.auth, 'auth');
  if (entry.serverInfo?.name)
    fact('Server', `${entry.serverInfo.name} ${entry.serverInfo.version || ''}`.trim(), 'server-info');
  if (entry.readyBackends) fact('Backends ready', entry.readyBackends, 'backends');
  fact('Registry name', entry.registryName, 'registry-name');
  const tools = el('ul', { class: 'tools' });
  for (const t of entry.tools)
    tools.append(
      el(
        'li',
        { 'data-tool': t.name },
        el('code', { text: t.name }),
        t.description ? el('span', { class: 'tool-description', text: ` — ${t.description}` }) : null,
      ),
    );
  return el(
    'article',
    { class: 'server', 'data-key': keyOf(entry) },
    el(
      'div',
      { class: 'head' },
      el('h2', { class: 'title', text: entry.title || entry.name }),
      el('span', { class: 'meta', text: `${entry.kind} ${entry.namespace}/${entry.name}` }),
      el('span', { class: 'ready', 'data-status': entry.ready.status, text: `Ready: ${entry.ready.status}` }),
      el('span', { class: 'reason', title: entry.ready.message, text: entry.ready.reason }),
    ),
    entry.description ? el('p', { class: 'description', text: entry.description }) : null,
    el('p', { class: 'message meta', text: entry.ready.message }),
    facts,
    el('div', { class: 'meta', text: `Tools (${entry.tools.length})` }),
    tools,
    snippetBlock(entry),
  );
}

function render() {
  const all = [...servers.values()].sort(
    (a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name) || a.kind.localeCompare(b.kind),
  );
  renderNamespaces(all);
  const query = $('search').value.trim().toLowerCase();
  const namespace = $('namespace').value;
  const shown = all.filter((e) => matches(e, query, namespace));
  $('servers').replaceChildren(...shown.map(card));
  $('empty').hidden = shown.length > 0;
  $('count').textContent = `${shown.length} of ${all.length} servers`;
}

document.addEventListener('DOMContentLoaded', () => {
  $('search').addEventListener('input', render);
  $('namespace').addEventListener('change', render);
  $('login').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
    $('token').value = '';
    connect();
  });
  render();
  connect();
});
