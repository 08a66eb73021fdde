/**
 * The catalog against hostile McpServers, on real parts: the real API server, the real `mcp-operator catalog`
 * process, Debian's headless Chromium. Markup in every field a user or a server controls (title, description,
 * tool names, condition messages, serverInfo) must arrive as text, never as elements or script; the page's CSP
 * must block inline script even if some code did insert markup; and nothing of a Secret reference, an env value
 * or an annotation may reach the API, the page's data, the event stream or a snippet.
 */

import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CatalogEntry } from '../../src/catalog/entry.ts';
import { CatalogServer } from '../../src/catalog/server.ts';
import { createLogger } from '../../src/observability/log.ts';
import { type CatalogProcess, startCatalog } from '../support/catalog-process.ts';
import { Browser, type Page } from '../support/chromium.ts';
import { adminClient, createRestrictedNamespace, eventually, resourcePath, T } from '../support/kube.ts';
import { MemorySource } from '../support/memory-source.ts';

const admin = adminClient(inject('adminKubeconfig'));
let ns: string;
let catalog: CatalogProcess;
let browser: Browser;
let page: Page;

/** Each would set window.__pwned if it ever ran. */
const HOSTILE = {
  title: `<img src=x onerror="window.__pwned='title'">`,
  description: `</p><script>window.__pwned='description'</script><b>bold</b>`,
  tool: `<svg onload="window.__pwned='tool'">`,
  toolTwo: `"><iframe srcdoc="<script>parent.__pwned='iframe'</script>">`,
  message: `<img src=x onerror="window.__pwned='message'"> & &amp; &lt;`,
  serverInfo: `'><script>window.__pwned='serverInfo'</script>`,
};
/** Strings that must never leave the API server through the catalog. */
const PRIVATE = ['gh-private-secret', 'private-key-name', 'do-not-show-this-value', 'ghp_annotationToken1234567890'];

beforeAll(async () => {
  ns = await createRestrictedNamespace(admin, 'catalog-hostile');
  await admin.create(resourcePath(T.mcpservers, { namespace: ns }), {
    apiVersion: 'mcpoperator.io/v1alpha1',
    kind: 'McpServer',
    metadata: { name: 'evil', annotations: { 'example.test/token': PRIVATE[3] } },
    spec: {
      image: 'example.test/evil:1.0',
      transport: 'streamable-http',
      port: 3000,
      title: HOSTILE.title,
      description: HOSTILE.description,
      env: [
        { name: 'GITHUB_TOKEN', valueFrom: { secretKeyRef: { name: PRIVATE[0], key: PRIVATE[1] } } },
        { name: 'MODE', value: PRIVATE[2] },
      ],
    },
  });
  await admin.mergePatch(resourcePath(T.mcpservers, { namespace: ns, name: 'evil', subresource: 'status' }), {
    status: {
      url: `http://evil.${ns}.svc:8080/mcp`,
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          reason: 'CrashLoop',
          message: HOSTILE.message,
          lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        },
      ],
      serverInfo: { name: HOSTILE.serverInfo, version: '1.0.0' },
      tools: [HOSTILE.tool, HOSTILE.toolTwo],
    },
  });
  // Terminal escapes (window title, clear screen) in a message and in a URL: connect prints both kinds of text.
  for (const [name, url, message] of [
    ['term', `http://term.${ns}.svc:8080/mcp`, 'crashed \u001b]0;pwned\u0007\u001b[2J\r over'],
    ['termurl', `http://termurl.${ns}.svc:8080/\u001b[2J/mcp`, 'ok'],
  ] as const) {
    await admin.create(resourcePath(T.mcpservers, { namespace: ns }), {
      apiVersion: 'mcpoperator.io/v1alpha1',
      kind: 'McpServer',
      metadata: { name },
      spec: { image: 'example.test/term:1.0', transport: 'streamable-http', port: 3000 },
    });
    await admin.mergePatch(resourcePath(T.mcpservers, { namespace: ns, name, subresource: 'status' }), {
      status: {
        url,
        conditions: [
          { type: 'Ready', status: 'False', reason: 'CrashLoop', message, lastTransitionTime: '2026-12-01T00:00:00Z' },
        ],
      },
    });
  }
  catalog = await startCatalog({ kubeconfig: inject('adminKubeconfig'), args: [`--namespaces=${ns}`] });
  browser = await Browser.launch();
  page = await browser.newPage();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await catalog?.stop();
  if (ns) await admin.delete(resourcePath(T.namespaces, { name: ns })).catch(() => {});
});

const key = () => `McpServer/${ns}/evil`;
const text = (selector: string) =>
  page.evaluate<string | null>(
    `document.querySelector(${JSON.stringify(`article[data-key="${key()}"] ${selector}`)})?.textContent ?? null`,
  );

describe('the catalog page and API with hostile fields', () => {
  it('shows every field as literal text: no element, no script from the data', async () => {
    await page.goto(catalog.url);
    await page.waitFor(`document.querySelector('article[data-key="${key()}"]')`);
    expect(await text('.title')).toBe(HOSTILE.title);
    expect(await text('.description')).toBe(HOSTILE.description);
    expect(await text('.message')).toBe(HOSTILE.message);
    expect(await text('.server-info')).toBe(`${HOSTILE.serverInfo} 1.0.0`);
    expect(
      await page.evaluate<string[]>(
        `[...document.querySelectorAll('article[data-key="${key()}"] li[data-tool]')].map((l) => l.dataset.tool)`,
      ),
    ).toEqual([HOSTILE.tool, HOSTILE.toolTwo]);
    // Nothing the data described became an element; the search box re-renders the same way.
    const injected = `document.querySelectorAll('#servers img, #servers script, #servers svg, #servers iframe, #servers b').length`;
    expect(await page.evaluate<number>(injected)).toBe(0);
    await page.evaluate(
      `(() => { const s = document.querySelector('#search'); s.value = 'svg onload'; s.dispatchEvent(new Event('input')); })()`,
    );
    await page.waitFor(`document.querySelector('#count').textContent === '1 of 3 servers'`);
    expect(await page.evaluate<number>(injected)).toBe(0);
    await new Promise((r) => setTimeout(r, 300)); // an onerror would fire on the next task: give it the chance
    expect(await page.evaluate<unknown>('window.__pwned ?? null')).toBeNull();
  });

  it('CSP blocks inline script and inline handlers even if markup got in', async () => {
    const violation = await page.evaluate<string>(`new Promise((resolve) => {
      document.addEventListener('securitypolicyviolation', (e) => resolve(e.violatedDirective), { once: true });
      setTimeout(() => resolve('no violation reported'), 3000);
      const s = document.createElement('script');
      s.textContent = 'window.__inline = 1';
      document.body.append(s);
    })`);
    expect(violation).toMatch(/^script-src/);
    const handler = await page.evaluate<string>(`new Promise((resolve) => {
      document.addEventListener('securitypolicyviolation', (e) => resolve(e.violatedDirective), { once: true });
      setTimeout(() => resolve('no violation reported'), 3000);
      document.body.insertAdjacentHTML('beforeend', '<img src="catalog.css" onload="window.__inline = 2">');
    })`);
    expect(handler).toMatch(/^script-src/);
    expect(await page.evaluate<unknown>('window.__inline ?? null')).toBeNull();
  });

  it('never shows a Secret reference, an env value or an annotation: API, page data, events, snippets', async () => {
    const bodies = await Promise.all(
      [
        '/v0.1/servers',
        `/v0.1/servers/${encodeURIComponent(`local.cluster.${ns}/evil`)}/versions/latest`,
        '/api/catalog',
      ].map(async (path) => {
        const res = await fetch(`${catalog.url}${path}`);
        expect(res.status, path).toBe(200);
        return res.text();
      }),
    );
    const events = await fetch(`${catalog.url}/api/events`);
    const reader = events.body?.getReader();
    const first = await reader?.read();
    await reader?.cancel();
    bodies.push(new TextDecoder().decode(first?.value));
    expect(bodies[2]).toContain('claude mcp add');
    expect(bodies[3]).toContain('event: snapshot');
    for (const body of bodies) for (const secret of PRIVATE) expect(body).not.toContain(secret);
    expect(JSON.stringify(catalog.logs)).not.toContain(PRIVATE[2]);
  });

  it('connect never lets a status string drive the terminal: escapes shown, a URL with them refused', async () => {
    const connect = (name: string, namespace = ns) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((ok) =>
        execFile(
          process.execPath,
          [
            resolve(import.meta.dirname, '../../src/cli/main.ts'),
            'connect',
            name,
            '-n',
            namespace,
            '--client',
            'claude-code',
            `--kubeconfig=${inject('adminKubeconfig')}`,
          ],
          (err, stdout, stderr) => ok({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
        ),
      );
    const noted = await connect('term');
    expect(noted.code).toBe(0);
    expect(noted.stdout).toBe(`claude mcp add --transport http term http://term.${ns}.svc:8080/mcp\n`);
    expect(noted.stderr).toContain('is not Ready (CrashLoop): crashed \\u001b]0;pwned\\u0007\\u001b[2J\\u000d over');
    for (const control of ['\u001b', '\u0007', '\r']) expect(noted.stderr).not.toContain(control);
    const refused = await connect('termurl');
    expect(refused).toMatchObject({ code: 1, stdout: '' });
    expect(refused.stderr).toContain('holds control characters');
    expect(refused.stderr).not.toContain('\u001b');
    const nowhere = await connect('term', 'no-such-namespace');
    expect(nowhere).toMatchObject({ code: 1, stdout: '' });
    expect(nowhere.stderr).toContain('no McpServer or VirtualMcpServer no-such-namespace/term (check the name and -n');
    expect(nowhere.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('the registry for a client that syncs with updated_since', () => {
  it('lists a server whose title changed, though no condition moved', async () => {
    await admin.create(resourcePath(T.mcpservers, { namespace: ns }), {
      apiVersion: 'mcpoperator.io/v1alpha1',
      kind: 'McpServer',
      metadata: { name: 'retitled' },
      spec: { image: 'example.test/retitled:1.0', transport: 'streamable-http', port: 3000, title: 'Before' },
    });
    await admin.mergePatch(resourcePath(T.mcpservers, { namespace: ns, name: 'retitled', subresource: 'status' }), {
      status: {
        url: `http://retitled.${ns}.svc:8080/mcp`,
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'Available',
            message: 'ok',
            lastTransitionTime: '2026-01-01T00:00:00Z',
          },
        ],
      },
    });
    const name = `local.cluster.${ns}/retitled`;
    const listed = async (query: string) => {
      const res = await fetch(`${catalog.url}/v0.1/servers?search=${encodeURIComponent(name)}&${query}`);
      const body = (await res.json()) as { servers: Array<{ server: { title?: string } }> };
      return body.servers;
    };
    await eventually('the catalog lists it', async () => ((await listed('')).length === 1 ? true : undefined));
    // The last sync: a whole second after the creation (timestamps are to the second), then the edit.
    const lastSync = new Date(Math.ceil((Date.now() + 1) / 1000) * 1000);
    await new Promise((r) => setTimeout(r, lastSync.getTime() - Date.now() + 50));
    await admin.mergePatch(resourcePath(T.mcpservers, { namespace: ns, name: 'retitled' }), {
      spec: { title: 'After' },
    });
    const since = `updated_since=${encodeURIComponent(lastSync.toISOString().replace(/\.\d+Z$/, 'Z'))}`;
    await eventually('the new title', async () =>
      (await listed('')).at(0)?.server.title === 'After' ? true : undefined,
    );
    const changed = await listed(since);
    expect(changed.map((s) => s.server.title)).toEqual(['After']);
  });
});

describe('the page with bearer auth and a token pasted with a stray character', () => {
  it('says the token cannot be sent and asks again, instead of reconnecting silently forever', async () => {
    const tokenFile = join(mkdtempSync(join(tmpdir(), 'catalog-hostile-')), 'tokens');
    writeFileSync(tokenFile, 'hostile-test-token\n');
    const guarded = await startCatalog({
      kubeconfig: inject('adminKubeconfig'),
      args: [`--namespaces=${ns}`, `--auth-token-file=${tokenFile}`],
    });
    try {
      const p = await browser.newPage();
      await p.goto(guarded.url);
      await p.waitFor(`document.querySelector('#login').checkVisibility()`);
      const submit = (token: string) =>
        p.evaluate(
          `(() => { document.querySelector('#token').value = ${JSON.stringify(token)}; document.querySelector('#login').requestSubmit(); })()`,
        );
      // A zero-width space copied along, then a typographic quote: fetch cannot put either in a header.
      for (const pasted of ['hostile-test\u200b-token', '\u201chostile-test-token\u201d']) {
        await submit(pasted);
        await p.waitFor(`document.querySelector('#login-error').textContent.includes('cannot carry')`, 5000);
        expect(await p.evaluate<string>(`document.querySelector('#live').dataset.state`)).toBe('offline');
        await p.evaluate(`document.querySelector('#login-error').textContent = ''`);
      }
      await submit('hostile-test-token');
      await p.waitFor(`document.querySelector('article[data-key="McpServer/${ns}/evil"]')`);
      expect(await p.evaluate<boolean>(`document.querySelector('#login').checkVisibility()`)).toBe(false);
    } finally {
      await guarded.stop();
    }
  });
});

describe('the page and a burst of changes (a controller restart rewrites every status)', () => {
  it('renders the burst in a few passes, not once per change', async () => {
    const source = new MemorySource();
    const server = new CatalogServer({
      source,
      registry: { namePrefix: 'local.cluster' },
      log: createLogger({ name: 'catalog-test', level: 'silent' }),
    });
    const { port } = await server.listen(0, '127.0.0.1');
    const burst = (name: string, message: string): CatalogEntry => ({
      kind: 'McpServer',
      namespace: 'burst',
      name,
      ready: { status: 'True', reason: 'Available', message },
      transport: 'stdio',
      auth: 'none',
      endpoints: [{ type: 'streamable-http', url: `http://${name}.burst.svc:8080/mcp`, scope: 'cluster' }],
      tools: [],
    });
    try {
      const p = await browser.newPage();
      await p.goto(`http://127.0.0.1:${port}/`);
      await p.waitFor(`document.querySelector('#live').dataset.state === 'live'`);
      // Each render replaces the list's children: one mutation record per render.
      await p.evaluate(`(() => {
        window.__renders = 0;
        new MutationObserver((records) => { window.__renders += records.length; })
          .observe(document.querySelector('#servers'), { childList: true });
      })()`);
      const changes = 300;
      for (let i = 0; i < changes; i++) source.emit(burst(`s${i}`, 'after the restart'));
      await p.waitFor(`document.querySelectorAll('article.server').length === ${changes}`);
      const renders = await p.evaluate<number>('window.__renders');
      expect(renders).toBeGreaterThan(0);
      expect(renders).toBeLessThan(changes / 10);
    } finally {
      await server.close();
    }
  });
});
