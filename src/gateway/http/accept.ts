/**
 * Which answer formats a request's `Accept` header allows: JSON and/or an event stream (RFC 9110 §12.5.1 media
 * ranges and q-values; the most specific range that matches a type decides, and q=0 refuses it).
 */

export interface AnswerFormats {
  json: boolean;
  sse: boolean;
}

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
}

function parseRange(text: string): MediaRange | undefined {
  const [range = '', ...params] = text.split(';');
  const m = /^\s*([a-z0-9!#$%&'*+.^_`|~-]+)\/([a-z0-9!#$%&'*+.^_`|~-]+)\s*$/i.exec(range);
  if (!m) return undefined;
  let q = 1;
  for (const p of params) {
    const qm = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p);
    if (qm) q = Number(qm[1]);
  }
  if (!Number.isFinite(q)) return undefined;
  return { type: (m[1] as string).toLowerCase(), subtype: (m[2] as string).toLowerCase(), q };
}

/** The q-value the ranges give `type/subtype`: that of the most specific matching range, 0 when none matches. */
function quality(ranges: MediaRange[], type: string, subtype: string): number {
  let best = -1;
  let q = 0;
  for (const r of ranges) {
    const specificity =
      r.type === type && r.subtype === subtype
        ? 3
        : r.type === type && r.subtype === '*'
          ? 2
          : r.type === '*' && r.subtype === '*'
            ? 1
            : 0;
    if (specificity > best && specificity > 0) {
      best = specificity;
      q = r.q;
    }
  }
  return q;
}

/**
 * null when the request has no Accept header (or a blank one): the client states no preference, so the caller
 * picks (RFC 9110: no Accept means any type). Otherwise which of application/json and text/event-stream it takes.
 */
export function acceptedFormats(header: string | undefined): AnswerFormats | null {
  if (header === undefined) return null;
  // Clients send the same one or two Accept values on every request: remember a few (bounded, so junk
  // headers cannot grow it) instead of parsing each time. The answers are frozen: callers share them.
  const known = seen.get(header);
  if (known !== undefined) return known;
  const formats = parseAccept(header);
  if (seen.size >= MAX_SEEN) seen.clear();
  seen.set(header, formats);
  return formats;
}

const MAX_SEEN = 16;
const seen = new Map<string, Readonly<AnswerFormats> | null>();

function parseAccept(header: string): AnswerFormats | null {
  if (header.trim() === '') return null;
  const ranges: MediaRange[] = [];
  for (const part of header.split(',')) {
    const r = parseRange(part);
    if (r) ranges.push(r);
  }
  return Object.freeze({
    json: quality(ranges, 'application', 'json') > 0,
    sse: quality(ranges, 'text', 'event-stream') > 0,
  });
}
