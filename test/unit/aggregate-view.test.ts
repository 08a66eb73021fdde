/**
 * The aggregate's view, pure: template matching for resources/read, the merged lists keeping a down backend's
 * names (they leave the lists but no other backend takes them), and which list_changed a step calls for.
 */
import { describe, expect, test } from 'vitest';
import type { ItemKind } from '../../src/contract/virtual-names.ts';
import type { Item } from '../../src/gateway/aggregate/backend.ts';
import { buildView, changedLists, type ViewBackend } from '../../src/gateway/aggregate/view.ts';

const tools = (...names: string[]) => new Map<ItemKind, Item[]>([['tool', names.map((name) => ({ name }))]]);
const b = (name: string, up: boolean, offered: ViewBackend['offered'], prefix?: string): ViewBackend => ({
  naming: { name, prefix, listedAt: 0 },
  up,
  offered,
});

describe('buildView', () => {
  test.each([
    { what: 'both up: the first wins echo', aUp: true, names: ['echo', 'add', 'sub'], resolved: 'a' },
    { what: 'a down: its tools leave, echo stays a’s', aUp: false, names: ['sub'], resolved: 'a' },
  ])('$what', ({ aUp, names, resolved }) => {
    const view = buildView([b('a', aUp, tools('echo', 'add')), b('b', true, tools('echo', 'sub'))], {});
    expect(view.lists.tool.map((t) => t.name)).toEqual(names);
    const r = view.catalog.resolve('tool', 'echo');
    expect(r.verdict === 'exposed' && r.backend).toBe(resolved);
  });

  test('exposed names replace the backend’s own, the rest of the item kept', () => {
    const view = buildView([b('a', true, new Map([['tool', [{ name: 'echo', description: 'd' }]]]), 'x')], {});
    expect(view.lists.tool).toEqual([{ name: 'x_echo', description: 'd' }]);
  });
});

describe('changedLists', () => {
  const before = buildView([b('a', true, tools('echo'))], {});
  test.each([
    { what: 'nothing visible changed', after: buildView([b('a', true, tools('echo'))], {}), expected: [] },
    {
      what: 'a tool left',
      after: buildView([b('a', false, tools('echo'))], {}),
      expected: ['notifications/tools/list_changed'],
    },
    {
      what: 'a resource appeared',
      after: buildView([b('a', true, new Map([...tools('echo'), ['resource', [{ uri: 'x://1' }]]]))], {}),
      expected: ['notifications/resources/list_changed'],
    },
  ])('$what -> $expected', ({ after, expected }) => {
    expect(changedLists(before, after)).toEqual(expected);
  });
});
