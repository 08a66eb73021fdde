/**
 * Finds the external commands that the project's TypeScript and shell code runs, for
 * test/unit/system-commands.test.ts (every one must have an install step in scripts/system-commands.txt).
 *
 * TypeScript: calls of node:child_process (spawn, spawnSync, execFile, execFileSync, exec, execSync, and
 * `promisify(execFile)` aliases), and calls of any function that passes one of its own parameters on as the
 * command (src/local-cluster/sh.ts `run`, the control plane's `launch`): their callers are scanned in turn. A command that
 * is not a literal, `process.execPath` or `join(..., 'name')` needs a `// spawns: NAME, ...` comment on the line
 * of the call or just above it (`*`: a command the user supplies at run time; say which in the comment).
 * Shell: the command word of every simple command, command substitution included; `# spawns:` likewise.
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
function annotationAt(lines: string[], line: number): string[] | undefined {
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

// --- shell ---------------------------------------------------------------------------------------------------

/** Builtins and keywords of POSIX sh and bash that a script may use: not external commands. */
const SHELL_BUILTINS = new Set(
  (
    '. : [ [[ ]] alias bg break builtin cd command continue declare echo eval exec exit export false fg getopts ' +
    'hash jobs kill let local mapfile printf pwd read readonly return set shift source test times trap true type ' +
    'typeset ulimit umask unalias unset wait'
  ).split(' '),
);
/** Words after which the next word is a command again. */
const PREFIX_WORDS = new Set(['if', 'then', 'else', 'elif', 'do', 'while', 'until', '!', 'time', '{', 'exec']);
const SKIP_SEGMENT = new Set(['for', 'select', 'fi', 'done', 'esac', '}', 'in', 'function']);

interface Token {
  word?: string;
  op?: string;
  line: number;
}

/** Splits shell text into words and operators; heredoc bodies and comments are dropped. */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let word = '';
  let started = false;
  const heredocs: string[] = [];
  const flush = () => {
    if (started) tokens.push({ word, line });
    word = '';
    started = false;
  };
  // `$(` ... `)` and `"..."` nest: the stack holds what closes the current context
  const stack: string[] = [];
  while (i < text.length) {
    const c = text[i] as string;
    const top = stack.at(-1);
    if (top === '"') {
      if (c === '\\') {
        word += text.slice(i, i + 2);
        i += 2;
        continue;
      }
      if (c === '"') {
        stack.pop();
        i++;
        continue;
      }
      if (text.startsWith('$(', i) && !text.startsWith('$((', i)) {
        flush();
        tokens.push({ op: '$(', line });
        stack.push(')');
        i += 2;
        continue;
      }
      if (c === '\n') line++;
      word += c;
      i++;
      continue;
    }
    if (c === '\n') {
      flush();
      tokens.push({ op: '\n', line });
      line++;
      i++;
      // heredoc bodies start on the next line
      while (heredocs.length > 0) {
        const end = heredocs.shift() as string;
        for (;;) {
          const next = text.indexOf('\n', i);
          const bodyLine = text.slice(i, next < 0 ? undefined : next);
          i = next < 0 ? text.length : next + 1;
          line++;
          if (bodyLine.trim() === end || next < 0) break;
        }
      }
      continue;
    }
    if (c === '\\' && text[i + 1] === '\n') {
      i += 2;
      line++;
      continue;
    }
    if (c === '#' && !started) {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (c === ' ' || c === '\t') {
      flush();
      i++;
      continue;
    }
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      word += text.slice(i + 1, end);
      started = true;
      i = end + 1;
      continue;
    }
    if (c === '"') {
      started = true;
      stack.push('"');
      i++;
      continue;
    }
    if (text.startsWith('<<', i) && !text.startsWith('<<<', i)) {
      flush();
      const m = /^<<-?\s*(['"]?)([\w-]+)\1/.exec(text.slice(i));
      if (m) {
        heredocs.push(m[2] as string);
        i += m[0].length;
        continue;
      }
    }
    if (text.startsWith('${', i)) {
      // parameter expansion: skip to the matching brace
      let depth = 0;
      let j = i;
      for (; j < text.length; j++) {
        if (text[j] === '{') depth++;
        else if (text[j] === '}' && --depth === 0) break;
      }
      word += text.slice(i, j + 1);
      started = true;
      i = j + 1;
      continue;
    }
    if (text.startsWith('$((', i)) {
      const end = text.indexOf('))', i);
      word += text.slice(i, end + 2);
      started = true;
      i = end + 2;
      continue;
    }
    if (text.startsWith('$(', i) || c === '`') {
      flush();
      tokens.push({ op: '$(', line });
      stack.push(c === '`' ? '`' : ')');
      i += c === '`' ? 1 : 2;
      continue;
    }
    if ((c === ')' && top === ')') || (c === '`' && top === '`')) {
      flush();
      stack.pop();
      tokens.push({ op: 'subst-end', line });
      i++;
      continue;
    }
    if (c === '(' && /^[A-Za-z_][A-Za-z0-9_]*\+?=$/.test(word)) {
      // an array assignment `a=(...)` / `a+=(...)`: its words are values
      const end = text.indexOf(')', i);
      word += text.slice(i, end + 1);
      i = end + 1;
      continue;
    }
    const op = ['&&', '||', ';;', '|', ';', '&', '(', ')'].find((o) => text.startsWith(o, i));
    if (op && !(op === '&' && /[<>]$/.test(word))) {
      flush();
      tokens.push({ op, line });
      i += op.length;
      continue;
    }
    word += c;
    started = true;
    i++;
  }
  flush();
  return tokens;
}

/** Commands run by shell text (a script, or a package.json script); `file` names them in the result. */
export function scanShell(text: string, file: string): Scan {
  const commands: Found[] = [];
  const unresolved: Found[] = [];
  const lines = text.split('\n');
  const functions = new Set([...text.matchAll(/^\s*(?:function\s+)?([\w-]+)\s*\(\)\s*\{?/gm)].map((m) => m[1]));
  // a definition `name() { ...; }`: its body's commands count, its name is not one
  const tokens = tokenize(text.replace(/^(\s*)(?:function\s+)?[\w-]+\s*\(\)/gm, '$1'));
  let expectCommand = true;
  let skipping = false; // the rest of this segment holds no command (`for x in ...`, `case x in`)
  let awaitingIn = false; // after `case WORD`: its `in` starts the first pattern
  let casePattern = false; // words up to `)` are a pattern
  let caseDepth = 0;
  let redirectNext = false;
  let optionsFirst = false; // after `xargs`/`env`: skip options and assignments before the command
  const outer: Array<{ expectCommand: boolean; skipping: boolean }> = []; // the command around a `$(...)`
  for (const t of tokens) {
    if (t.op === '$(') outer.push({ expectCommand, skipping });
    if (t.op === 'subst-end') {
      ({ expectCommand, skipping } = outer.pop() ?? { expectCommand: false, skipping: false });
      continue;
    }
    if (t.op) {
      if (t.op === ';;') casePattern = caseDepth > 0;
      else if (t.op === ')' && casePattern) casePattern = false;
      expectCommand = true;
      skipping = false;
      redirectNext = false;
      optionsFirst = false;
      continue;
    }
    const word = t.word as string;
    if (awaitingIn) {
      if (word === 'in') {
        awaitingIn = false;
        casePattern = true;
      }
      continue;
    }
    if (word === 'esac' && caseDepth > 0) {
      caseDepth--;
      casePattern = false;
      continue;
    }
    if (casePattern) continue;
    if (redirectNext) {
      redirectNext = false;
      continue;
    }
    if (/^\d*(>>?|<)&?\d*$/.test(word)) {
      redirectNext = true; // `> file`, `2> file`
      continue;
    }
    if (/^\d*(>>?|<)/.test(word)) continue; // `>file`, `2>&1`, `9>"$lock"`
    if (!expectCommand || skipping) continue;
    if (word === 'case') {
      caseDepth++;
      awaitingIn = true;
      continue;
    }
    if (/^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/.test(word)) continue; // assignment
    if (optionsFirst && word.startsWith('-')) continue;
    if (PREFIX_WORDS.has(word)) continue;
    if (SKIP_SEGMENT.has(word)) {
      skipping = true;
      continue;
    }
    expectCommand = false;
    optionsFirst = false;
    if (word === 'command' || SHELL_BUILTINS.has(word) || functions.has(word)) continue;
    const where = `${file}:${t.line}`;
    const annotated = annotationAt(lines, t.line);
    if (annotated) {
      for (const c of annotated) commands.push({ command: c, where });
      continue;
    }
    if (word.includes('$')) {
      unresolved.push({ command: word, where });
      continue;
    }
    commands.push({ command: basename(word), where });
    // `xargs CMD`, `env CMD`: the next word that is not an option is a command too
    if (['xargs', 'env', 'nohup', 'sudo'].includes(word)) {
      expectCommand = true;
      optionsFirst = true;
    }
  }
  return { commands, unresolved };
}
