/**
 * Finds the external commands that the project's TypeScript and shell code runs, for
 * test/unit/system-commands.test.ts (every one must have an install step in scripts/system-commands.txt).
 *
 * TypeScript: calls of node:child_process (spawn, spawnSync, execFile, execFileSync, exec, execSync, and
 * `promisify(execFile)` aliases), and calls of any function that passes one of its own parameters on as the
 * command (src/local-cluster/sh.ts `run`, the control plane's `launch`): their callers are scanned in turn. A command that
 * is not a literal, `process.execPath` or `join(..., 'name')` needs a `// spawns: NAME, ...` comment on the line
 * of the call or just above it (`*`: a command the user supplies at run time; say which in the comment).
 * Shell scripts: spawned-shell.ts.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { parseAst } from 'rolldown/parseAst';

export interface Found {
  command: string;
  /** file:line */
  where: string;
}

export interface Scan {
  commands: Found[];
  /** calls whose command could not be told: file:line and the expression */
  unresolved: Found[];
}

const CHILD_PROCESS = new Set(['spawn', 'spawnSync', 'execFile', 'execFileSync', 'exec', 'execSync']);
/** `// spawns: a, b` or `# spawns: a` (a trailing `(...)` or ` - ...` is the reason) */
const ANNOTATION = /(?:\/\/|#)\s*spawns:\s*([^(\n]*?)\s*(?:\(|\s-\s|$)/m;

// biome-ignore lint/suspicious/noExplicitAny: an ESTree node, walked generically
type Node = any;

interface Source {
  file: string;
  text: string;
  ast: Node;
  lineStarts: number[];
}

interface Wrapper {
  file: string;
  name: string;
  param: number;
}

function lineOf(src: Source, offset: number): number {
  let lo = 0;
  let hi = src.lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((src.lineStarts[mid] ?? 0) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

/** Names from a `spawns:` comment on `line` or on the (up to 3) comment lines right above it. */
export function annotationAt(lines: string[], line: number): string[] | undefined {
  for (let i = line - 1; i >= Math.max(0, line - 4); i--) {
    const text = lines[i] ?? '';
    const m = ANNOTATION.exec(text);
    if (m) return (m[1] ?? '').split(/[\s,]+/).filter(Boolean);
    if (i < line - 1 && !/^\s*(\/\/|#|\/?\*)/.test(text)) break;
  }
  return undefined;
}

function walk(node: Node, visit: (n: Node, ancestors: Node[]) => void, ancestors: Node[] = []): void {
  if (!node || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const n of node) walk(n, visit, ancestors);
    return;
  }
  if (typeof node.type === 'string') visit(node, ancestors);
  const next = typeof node.type === 'string' ? [...ancestors, node] : ancestors;
  for (const [key, value] of Object.entries(node)) {
    if (key !== 'parent' && value && typeof value === 'object') walk(value, visit, next);
  }
}

function stringValue(node: Node): string | undefined {
  if (node?.type === 'Literal' && typeof node.value === 'string') return node.value;
  if (node?.type === 'TemplateLiteral' && node.expressions.length === 0) return node.quasis[0]?.value?.cooked;
  return undefined;
}

function unwrap(node: Node): Node {
  while (node && (node.type === 'TSAsExpression' || node.type === 'TSNonNullExpression')) node = node.expression;
  return node;
}

/** The function (name, parameter names) that encloses a node, if it has a name a caller can use. */
function enclosingFunction(ancestors: Node[]): { name: string; params: string[] } | undefined {
  for (let i = ancestors.length - 1; i >= 0; i--) {
    const n = ancestors[i];
    if (!/Function|ArrowFunctionExpression/.test(n.type)) continue;
    const params = (n.params ?? []).map((p: Node) => (p.type === 'AssignmentPattern' ? p.left : p)?.name ?? '');
    if (n.id?.name) return { name: n.id.name, params };
    const parent = ancestors[i - 1];
    if (parent?.type === 'MethodDefinition' || parent?.type === 'Property') return { name: parent.key?.name, params };
    if (parent?.type === 'VariableDeclarator') return { name: parent.id?.name, params };
    return undefined;
  }
  return undefined;
}

type Resolution = { commands: string[] } | { param: number; fn: string } | undefined;

/** A file's module-level constants and the names it imports from other files of the scan. */
interface Context {
  constants: Map<string, Node>;
  imports: Map<string, { file: string; name: string }>;
  all: Map<string, Context>;
}

function lookup(name: string, ctx: Context): { value: Node; ctx: Context } | undefined {
  const value = ctx.constants.get(name);
  if (value) return { value, ctx };
  const imported = ctx.imports.get(name);
  const other = imported && ctx.all.get(imported.file);
  const exported = other?.constants.get(imported?.name ?? '');
  return other && exported ? { value: exported, ctx: other } : undefined;
}

/** What command an expression names: literals, process.execPath, join(..., 'x'), constants holding those. */
function resolveCommand(expr: Node, ctx: Context, ancestors: Node[], depth = 0): Resolution {
  const e = unwrap(expr);
  const s = stringValue(e);
  if (s !== undefined) return { commands: [basename(s)] };
  if (e?.type === 'MemberExpression' && e.object?.name === 'process' && e.property?.name === 'execPath') {
    return { commands: ['node'] };
  }
  if (e?.type === 'CallExpression' && ['join', 'resolve'].includes(e.callee?.name)) {
    const last = stringValue(e.arguments.at(-1));
    if (last !== undefined) return { commands: [basename(last)] };
  }
  if (e?.type === 'Identifier') {
    const fn = enclosingFunction(ancestors);
    const param = fn?.params.indexOf(e.name) ?? -1;
    if (fn && param >= 0) return { param, fn: fn.name };
    const found = lookup(e.name, ctx);
    if (found && depth < 5) return resolveCommand(found.value, found.ctx, [], depth + 1);
  }
  return undefined;
}

/** The first element of an argv constant (`const EVERYTHING = [NODE, path]`), for `...EVERYTHING`. */
function resolveSpread(expr: Node, ctx: Context): Resolution {
  const e = unwrap(expr);
  if (e?.type === 'ArrayExpression') return e.elements[0] ? resolveCommand(e.elements[0], ctx, []) : undefined;
  if (e?.type === 'Identifier') {
    const found = lookup(e.name, ctx);
    return found ? resolveSpread(found.value, found.ctx) : undefined;
  }
  if (e?.type === 'CallExpression' && e.callee?.type === 'Identifier') {
    // `...filesystem(dir)`, where `const filesystem = (dir) => [NODE, ...]`
    const found = lookup(e.callee.name, ctx);
    const body = found?.value.type === 'ArrowFunctionExpression' ? found.value.body : undefined;
    return body && found ? resolveSpread(body, found.ctx) : undefined;
  }
  return undefined;
}

function parseSource(file: string): Source {
  const text = readFileSync(file, 'utf8');
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);
  return { file, text, ast: parseAst(text, { lang: 'ts' }, file), lineStarts };
}

/** Module-level `const X = expr`, imports, and `const X = promisify(execFile)` aliases of one file. */
function declarations(src: Source, all: Map<string, Context>): { ctx: Context; aliases: Set<string> } {
  const constants = new Map<string, Node>();
  const imports = new Map<string, { file: string; name: string }>();
  const aliases = new Set<string>();
  for (const statement of src.ast.body) {
    const decl = statement.type === 'ExportNamedDeclaration' ? statement.declaration : statement;
    if (decl?.type === 'ImportDeclaration' && String(decl.source.value).startsWith('.')) {
      const file = resolve(dirname(src.file), decl.source.value);
      for (const spec of decl.specifiers ?? [])
        imports.set(spec.local.name, { file, name: spec.imported?.name ?? spec.local.name });
    }
    if (decl?.type !== 'VariableDeclaration') continue;
    for (const d of decl.declarations) {
      if (d.id?.type !== 'Identifier' || !d.init) continue;
      const init = unwrap(d.init);
      const promisified =
        init.type === 'CallExpression' &&
        init.callee?.name === 'promisify' &&
        CHILD_PROCESS.has(init.arguments[0]?.name);
      if (promisified) aliases.add(d.id.name);
      else constants.set(d.id.name, init);
    }
  }
  const ctx = { constants, imports, all };
  all.set(src.file, ctx);
  return { ctx, aliases };
}

/** Local names under which a file imports each wrapper (`import { run } from './sh.ts'`), and its own wrappers. */
function wrapperNames(src: Source, wrappers: Wrapper[]): Map<string, Wrapper> {
  const local = new Map<string, Wrapper>();
  for (const w of wrappers) if (w.file === src.file) local.set(w.name, w);
  walk(src.ast, (n) => {
    if (n.type !== 'ImportDeclaration' || !String(n.source.value).startsWith('.')) return;
    const from = resolve(dirname(src.file), n.source.value);
    for (const spec of n.specifiers ?? []) {
      const w = wrappers.find((x) => x.file === from && x.name === (spec.imported?.name ?? spec.local?.name));
      if (w) local.set(spec.local.name, w);
    }
  });
  return local;
}

/** Commands run by the TypeScript files (absolute paths). */
export function scanTypeScript(files: string[]): Scan {
  const sources = files.map(parseSource);
  const all = new Map<string, Context>();
  const decls = new Map(sources.map((src) => [src.file, declarations(src, all)]));
  const commands: Found[] = [];
  const unresolved: Found[] = [];
  const wrappers: Wrapper[] = [];
  // Passes until no new wrapper appears: a wrapper's callers may be wrappers themselves.
  for (let pass = 0; pass < 5; pass++) {
    commands.length = 0;
    unresolved.length = 0;
    const before = wrappers.length;
    for (const src of sources) {
      const { ctx, aliases } = decls.get(src.file) as { ctx: Context; aliases: Set<string> };
      const local = wrapperNames(src, wrappers);
      const lines = src.text.split('\n');
      walk(src.ast, (n, ancestors) => {
        if (n.type !== 'CallExpression') return;
        const callee = n.callee;
        const name = callee?.type === 'Identifier' ? callee.name : undefined;
        const method =
          callee?.type === 'MemberExpression' && callee.object?.type === 'ThisExpression' ? callee.property?.name : '';
        let argIndex: number;
        if (name && (CHILD_PROCESS.has(name) || aliases.has(name))) argIndex = 0;
        else if (name && local.has(name)) argIndex = local.get(name)?.param ?? 0;
        else if (method && local.has(method)) argIndex = local.get(method)?.param ?? 0;
        else return;
        const arg = n.arguments[argIndex];
        if (!arg || unwrap(arg).type === 'ArrayExpression') return; // a same-named helper that takes argv
        const line = lineOf(src, n.start);
        const where = `${src.file}:${line}`;
        const annotated = annotationAt(lines, line);
        if (annotated) {
          for (const c of annotated) commands.push({ command: c, where });
          return;
        }
        const r = resolveCommand(arg, ctx, ancestors);
        if (r && 'commands' in r) for (const c of r.commands) commands.push({ command: c, where });
        else if (r && 'param' in r) {
          if (!wrappers.some((w) => w.file === src.file && w.name === r.fn))
            wrappers.push({ file: src.file, name: r.fn, param: r.param });
        } else unresolved.push({ command: src.text.slice(arg.start, arg.end), where });
      });
    }
    if (wrappers.length === before) break;
  }
  return { commands, unresolved };
}

/**
 * Commands the gateway is told to run in tests (`startGateway(['stdio', ..., '--', CMD, ...])`): the gateway's
 * own spawn takes the user's command, so the test's choice is found here.
 */
export function scanGatewayChildren(files: string[]): Scan {
  const commands: Found[] = [];
  const unresolved: Found[] = [];
  const sources = files.map(parseSource);
  const all = new Map<string, Context>();
  for (const src of sources) declarations(src, all);
  for (const src of sources) {
    const ctx = all.get(src.file) as Context;
    const lines = src.text.split('\n');
    walk(src.ast, (n) => {
      if (n.type !== 'CallExpression' || n.callee?.name !== 'startGateway') return;
      const argv = unwrap(n.arguments[0]);
      if (argv?.type !== 'ArrayExpression' || stringValue(argv.elements[0]) !== 'stdio') return;
      const dash = argv.elements.findIndex((e: Node) => stringValue(e) === '--');
      const child = argv.elements[dash + 1];
      if (dash < 0 || !child) return;
      const line = lineOf(src, n.start);
      const where = `${src.file}:${line}`;
      const annotated = annotationAt(lines, line);
      const r: Resolution = annotated
        ? { commands: annotated }
        : child.type === 'SpreadElement'
          ? resolveSpread(child.argument, ctx)
          : resolveCommand(child, ctx, []);
      if (r && 'commands' in r) for (const c of r.commands) commands.push({ command: c, where });
      else unresolved.push({ command: src.text.slice(child.start, child.end), where });
    });
  }
  return { commands, unresolved };
}
