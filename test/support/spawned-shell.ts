/**
 * Finds the external commands the project's shell scripts run, for test/unit/system-commands.test.ts: the
 * command word of every simple command, command substitution included; a `# spawns: NAME` comment names what a
 * variable runs, as in the TypeScript scan (spawned-commands.ts).
 */
import { basename } from 'node:path';
import { annotationAt, type Found, type Scan } from './spawned-commands.ts';

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
