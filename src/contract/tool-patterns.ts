/**
 * tools.allow / tools.deny entries: an exact tool name, or a glob where `*` matches any run of characters and `?`
 * exactly one; nothing else is special (the CRD refuses regular-expression syntax). Matching is linear in the
 * name for each star, never a backtracking regular expression, since clients choose the names they call.
 *
 * In the contract layer, so the controller and the gateway share one matcher.
 */

/** True when `name` matches the glob `pattern` (an exact name is a glob without `*` or `?`). */
export function globMatches(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1; // position of the last `*` seen in the pattern
  let resume = 0; // where in the name that `*` would next stop matching
  while (n < name.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === name[n])) {
      p++;
      n++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = n;
    } else if (star !== -1) {
      // Let the last `*` take one more character and retry from there.
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/** A matcher for a list of entries: exact names by lookup, globs one by one. */
export function toolMatcher(entries: readonly string[]): (name: string) => boolean {
  const exact = new Set(entries.filter((e) => !/[*?]/.test(e)));
  const globs = entries.filter((e) => /[*?]/.test(e));
  return (name) => exact.has(name) || globs.some((g) => globMatches(g, name));
}

/** allow/deny as one predicate: deny wins over allow; an empty or absent allow list allows all not denied. */
export function allowDeny(lists: { allow?: readonly string[]; deny?: readonly string[] } | undefined) {
  const allow = lists?.allow?.length ? toolMatcher(lists.allow) : undefined;
  const deny = toolMatcher(lists?.deny ?? []);
  return (name: string): boolean => !deny(name) && (allow === undefined || allow(name));
}
