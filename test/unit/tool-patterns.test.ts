/** The gateway's tool policy matcher: exact names, and globs with * and ? only. */
import { describe, expect, it } from 'vitest';
import { globMatches, toolMatcher } from '../../src/contract/tool-patterns.ts';

describe('globMatches', () => {
  it.each([
    ['get_*', 'get_issue', true],
    ['get_*', 'get_', true],
    ['get_*', 'list_issues', false],
    ['get_*', 'xget_issue', false],
    ['*_issue', 'get_issue', true],
    ['get_?ssue', 'get_issue', true],
    ['get_?ssue', 'get_ssue', false],
    ['*', 'anything/at.all', true],
    ['*', '', true],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXbYY', false],
    ['a**b', 'ab', true],
    ['github.*', 'github.create_issue', true],
    ['github.*', 'githubXcreate', false],
    ['echo', 'echo', true],
    ['echo', 'echo2', false],
    ['echo', 'ech', false],
    ['*a*a*a*a*b', `${'a'.repeat(2000)}`, false],
  ] as const)('%s against %s: %s', (pattern, name, expected) => {
    expect(globMatches(pattern, name)).toBe(expected);
  });

  it('treats regular-expression characters literally', () => {
    expect(globMatches('get_.+', 'get_.+')).toBe(true);
    expect(globMatches('get_.+', 'get_x')).toBe(false);
  });
});

describe('toolMatcher', () => {
  it('keeps exact names exact and applies every glob', () => {
    const matches = toolMatcher(['echo', 'get-*', 'x?z']);
    expect(['echo', 'get-sum', 'get-', 'xyz'].every(matches)).toBe(true);
    expect(['echo2', 'gets', 'xz', 'xyyz'].some(matches)).toBe(false);
    expect(toolMatcher([])('echo')).toBe(false);
  });
});
