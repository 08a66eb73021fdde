/** Which resource template a URI belongs to (gateway/aggregate/uri-template.ts), in time linear in the URI. */
import { describe, expect, test } from 'vitest';
import { templateMatcher } from '../../src/gateway/aggregate/uri-template.ts';

describe('templateMatcher', () => {
  test.each([
    { template: 'file:///{path}', uri: 'file:///etc', matches: true },
    { template: 'file:///{path}', uri: 'file:///etc/passwd', matches: false },
    { template: 'file:///{+path}', uri: 'file:///etc/passwd', matches: true },
    { template: 'demo://resource/{id}', uri: 'demo://resource/7', matches: true },
    { template: 'demo://resource/{id}', uri: 'demo://other/7', matches: false },
    { template: 'search://q{?term,page}', uri: 'search://q?term=x&page=2', matches: true },
    { template: 'search://q{?term,page}', uri: 'search://q', matches: true },
    { template: 'search://q{?term,page}', uri: 'search://qx', matches: false },
    { template: 'a.b://{x}', uri: 'aXb://y', matches: false },
    { template: 'file:///{name}{.ext}', uri: 'file:///notes.txt', matches: true },
    { template: 'file:///{name}{.ext}', uri: 'file:///a/b.txt', matches: false },
    // {/x} expands to whole path segments, slashes included.
    { template: 'repo://x{/path}', uri: 'repo://x/a/b', matches: true },
    { template: 'repo://x{/path}', uri: 'repo://x/a?b', matches: false },
    { template: 'doc://{id}#{+frag}', uri: 'doc://7#a/b', matches: true },
    { template: 'doc://{id}/end', uri: 'doc://7/end/', matches: false },
  ])('$template ~ $uri: $matches', ({ template, uri, matches }) => {
    expect(templateMatcher(template).test(uri)).toBe(matches);
  });
});
