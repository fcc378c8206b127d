/**
 * Splits a rendered message into parts of at most `limit` characters whose concatenation is exactly
 * the input. A cut goes at the last paragraph break, else line break, else sentence end, else space
 * before the limit — never inside a code block, inline code or a link unless one alone is longer
 * than a message (then at a line break inside it, else at the limit).
 */
export function splitMessage(text: string, limit: number): string[] {
  if (limit < 1) throw new RangeError('limit must be at least 1');
  const parts: string[] = [];
  let rest = text;
  while (rest.length > limit) {
    const cut = findCut(rest, limit);
    parts.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  parts.push(rest);
  return parts;
}

function findCut(text: string, limit: number): number {
  const window = text.slice(0, limit + 1);
  const forbidden = protectedRanges(text, limit);
  const allowed = (position: number) =>
    position > 0 && !forbidden.some(([start, end]) => position > start && position < end);
  const patterns = [/\n\s*\n/g, /\n/g, /[.!?](?=\s)\s*/g, /\s+/g];
  const floor = Math.floor(limit / 3);
  for (const pattern of patterns) {
    let best = -1;
    for (const match of window.matchAll(pattern)) {
      const position = (match.index ?? 0) + match[0].length;
      if (position <= limit && position >= floor && allowed(position)) best = position;
    }
    if (best !== -1) return best;
  }
  // Nothing clean: a cut before the protected span that crosses the limit, else a line break inside it.
  const crossing = forbidden.find(([start, end]) => start < limit && end > limit);
  if (crossing && crossing[0] > 0) return crossing[0];
  const lineBreak = window.lastIndexOf('\n', limit - 1);
  if (lineBreak > 0) return lineBreak + 1;
  return limit;
}

/** [start, end) spans that a cut must not fall strictly inside. */
function protectedRanges(text: string, limit: number): [number, number][] {
  const ranges: [number, number][] = [];
  const scan = text.slice(0, Math.min(text.length, limit * 2 + 16));
  const fence = /^\s{0,3}(`{3,}|~{3,})[^\n]*$/gm;
  let open: number | undefined;
  for (const match of scan.matchAll(fence)) {
    if (open === undefined) open = match.index ?? 0;
    else {
      ranges.push([open, (match.index ?? 0) + match[0].length]);
      open = undefined;
    }
  }
  if (open !== undefined) ranges.push([open, text.length]);
  const inFence = (position: number) => ranges.some(([start, end]) => position >= start && position < end);
  for (const pattern of [/`[^`\n]+`/g, /\[[^\]\n]*\]\([^)\n]*\)/g, /<[^>\n]+>/g]) {
    for (const match of scan.matchAll(pattern)) {
      const start = match.index ?? 0;
      if (!inFence(start)) ranges.push([start, start + match[0].length]);
    }
  }
  return ranges;
}
