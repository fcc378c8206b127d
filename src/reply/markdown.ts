/**
 * Markdown for chat platforms: the model writes CommonMark; Slack wants mrkdwn, Discord a close
 * cousin of CommonMark. Code (fenced and inline) passes through untouched but for Slack's
 * required escapes.
 */

const fenceLine = /^\s{0,3}(`{3,}|~{3,})/;

/** Splits text into code (fences, inline) and prose, so conversions touch prose only. */
function mapProse(text: string, convert: (prose: string) => string): string {
  return mapOutsideFences(text, (prose) => convertInline(prose, convert)).text;
}

/**
 * Applies `convert` to each run of lines outside fenced code blocks, leaving the blocks as they
 * are; `openFence` is the marker of a block still open at the end.
 */
function mapOutsideFences(
  text: string,
  convert: (prose: string) => string,
): { text: string; openFence: string | undefined } {
  const out: string[] = [];
  let prose: string[] = [];
  let fence: string | undefined;
  const flush = () => {
    if (prose.length > 0) out.push(convert(prose.join('\n')));
    prose = [];
  };
  for (const line of text.split('\n')) {
    const marker = fenceLine.exec(line)?.[1];
    if (fence) {
      out.push(line);
      if (marker && marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
    } else if (marker) {
      flush();
      fence = marker;
      out.push(line);
    } else prose.push(line);
  }
  flush();
  return { text: out.join('\n'), openFence: fence };
}

function convertInline(text: string, convert: (prose: string) => string): string {
  return text
    .split(/(`[^`\n]+`)/g)
    .map((part, index) => (index % 2 === 1 ? part : convert(part)))
    .join('');
}

/**
 * CommonMark to Slack mrkdwn: `**bold**` → `*bold*`, `*italic*` → `_italic_`, `~~x~~` → `~x~`,
 * `[text](url)` → `<url|text>`, headings → bold lines, `- item` → `• item`; `&`, `<`, `>` escaped.
 * @see https://api.slack.com/reference/surfaces/formatting
 */
export function toSlackMrkdwn(markdown: string): string {
  const escaped = markdown.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return mapProse(escaped, (prose) =>
    prose
      .replace(
        /\[([^\]\n]+)\]\((https?:\/\/[^)\s]+)\)/g,
        (_match, label: string, url: string) => `<${url}|${label}>`,
      )
      .replace(/^(\s*)[-*+]\s+/gm, '$1• ')
      .replace(/(^|[^*\w])\*(?!\*)([^*\n]+?)\*(?!\*)/g, '$1_$2_')
      .replace(/^#{1,6}\s+(.+?)\s*#*$/gm, (_match, heading: string) => `*${heading.replace(/\*\*/g, '')}*`)
      .replace(/\*\*([^*\n]+?)\*\*/g, '*$1*')
      .replace(/__([^_\n]+?)__/g, '*$1*')
      .replace(/~~([^~\n]+?)~~/g, '~$1~'),
  );
}

/**
 * CommonMark for Discord, which renders most of it natively; mass mentions are defused so an
 * answer can never ping a whole server.
 * @see https://support.discord.com/hc/en-us/articles/210298617
 */
export function toDiscordMarkdown(markdown: string): string {
  return mapProse(markdown, (prose) => prose.replace(/@(everyone|here)\b/g, '@\u200b$1'));
}

/**
 * The part of a growing answer that is safe to show: an open code fence is closed for now, and an
 * unfinished link, inline code span or bold/strike marker at the end is held back until it
 * completes, so half-closed markdown never flashes on screen.
 */
export function stabilizeForStreaming(markdown: string): string {
  const lines = markdown.split('\n');
  let fence: string | undefined;
  let proseStart = 0;
  let offset = 0;
  for (const line of lines) {
    const marker = fenceLine.exec(line)?.[1];
    if (fence) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length) {
        fence = undefined;
        proseStart = offset + line.length + 1;
      }
    } else if (marker) fence = marker;
    offset += line.length + 1;
  }
  if (fence) {
    const lastLine = lines.at(-1) ?? '';
    // A fence still being typed ("``") is held back; an open block is closed for display.
    if (/^\s{0,3}`{1,2}$/.test(lastLine)) return markdown.slice(0, markdown.length - lastLine.length);
    return `${markdown}${markdown.endsWith('\n') ? '' : '\n'}${fence}`;
  }
  const tail = markdown.slice(proseStart);
  let cut = tail.length;
  const lastLine = tail.slice(tail.lastIndexOf('\n') + 1);
  if (/^\s{0,3}`{1,2}$/.test(lastLine)) cut = tail.length - lastLine.length;

  const withoutCode = tail.replace(/`[^`\n]*`/g, (span) => ' '.repeat(span.length));
  const openTick = withoutCode.lastIndexOf('`');
  if (openTick !== -1) cut = Math.min(cut, openTick);
  for (const marker of ['**', '~~', '__']) {
    const positions = [
      ...withoutCode.slice(0, cut).matchAll(new RegExp(marker.replace(/[*~_]/g, '\\$&'), 'g')),
    ];
    if (positions.length % 2 === 1) cut = Math.min(cut, positions.at(-1)?.index ?? cut);
  }
  const openBracket = withoutCode.slice(0, cut).lastIndexOf('[');
  if (openBracket !== -1) {
    const after = withoutCode.slice(openBracket, cut);
    const complete = /^\[[^\]\n]*\](?:\([^)\n]*\)|[^(]|$)/.test(after) && !/^\[[^\]\n]*\]$/.test(after);
    const plainText = /^\[[^\]\n]*\][^(]/.test(after);
    if (!complete && !plainText) cut = Math.min(cut, openBracket);
  }
  return markdown.slice(0, proseStart + cut);
}

/**
 * A final answer with every markup it opens closed: an open code fence is closed; an inline code
 * span, bold, italic or strike marker without its partner is dropped (`**United Kingdom*` →
 * `United Kingdom`); a link cut inside its address keeps its text only, and a `[` never closed is
 * dropped. Balanced text comes back unchanged. For answers cut short (length limit, interrupted
 * stream), where half-open markup would otherwise run to the end of the message.
 */
export function balanceMarkdown(markdown: string): string {
  const { text, openFence } = mapOutsideFences(markdown, (prose) =>
    prose
      .split(/(\n[ \t]*\n)/)
      .map((part, index) => (index % 2 === 1 ? part : balanceInline(part)))
      .join(''),
  );
  return openFence ? `${text}${text.endsWith('\n') ? '' : '\n'}${openFence}` : text;
}

/** One paragraph: unmatched code spans, links and emphasis markers removed. */
function balanceInline(text: string): string {
  const dropped = new Set<number>();
  const inert = new Set<number>();
  const drop = (from: number, to: number) => {
    for (let index = from; index < to; index++) dropped.add(index);
  };

  // Code spans: a run of n backticks closes only at the next run of exactly n.
  for (let index = 0; index < text.length; ) {
    if (text[index] !== '`') {
      index++;
      continue;
    }
    const length = runLength(text, index, '`');
    let close = index + length;
    while (close < text.length && !(text[close] === '`' && runLength(text, close, '`') === length)) {
      close += text[close] === '`' ? runLength(text, close, '`') : 1;
    }
    if (close >= text.length) {
      drop(index, index + length);
      index += length;
    } else {
      for (let inside = index; inside < close + length; inside++) inert.add(inside);
      index = close + length;
    }
  }

  // Links: `[text](address)`; citations like `[1]` are plain brackets and stay.
  for (let index = 0; index < text.length; index++) {
    if (text[index] !== '[' || inert.has(index)) continue;
    let close = index + 1;
    while (close < text.length && (text[close] !== ']' || inert.has(close)) && text[close] !== '[') close++;
    if (text[close] !== ']') {
      dropped.add(index);
      continue;
    }
    if (text[close + 1] !== '(') continue;
    let end = close + 2;
    while (end < text.length && text[end] !== ')' && !/\s/.test(text[end] as string)) end++;
    if (text[end] === ')') for (let inside = close + 1; inside <= end; inside++) inert.add(inside);
    else {
      dropped.add(index);
      drop(close, end);
    }
    index = close;
  }

  // Emphasis: delimiter runs paired as a stack; what is left unpaired is dropped.
  const open: Delimiter[] = [];
  for (let index = 0; index < text.length; ) {
    const character = text[index] as string;
    if (!'*_~'.includes(character) || inert.has(index) || dropped.has(index)) {
      index++;
      continue;
    }
    const length = runLength(text, index, character);
    const start = index;
    index += length;
    if ((character === '~' && length !== 2) || length > 3 || thematicBreak(text, start)) continue;
    const before = text[start - 1] ?? ' ';
    const after = text[start + length] ?? ' ';
    let canOpen = !/\s/.test(after);
    let canClose = !/\s/.test(before);
    if (character === '_') {
      canOpen &&= !/[\p{L}\p{N}]/u.test(before);
      canClose &&= !/[\p{L}\p{N}]/u.test(after);
      // An underscore inside a word (snake_case) is a letter, not markup.
      if (/[\p{L}\p{N}]/u.test(before) && /[\p{L}\p{N}]/u.test(after)) continue;
    }
    let remaining = length;
    let at = start;
    // Neither side fits: a lone `*` is arithmetic or a bullet and stays, unless the text ends there;
    // a lone `**` or `~~` is debris.
    if (canClose) {
      while (remaining > 0) {
        // The nearest opener of the same size, else the nearest smaller one (`***` closes `*` and `**`).
        const opener =
          findOpener(open, character, (size) => size === remaining) ??
          findOpener(open, character, (size) => size < remaining);
        if (!opener) break;
        // Openers inside the pair that never closed are dropped.
        while (open.length > 0 && open.at(-1) !== opener) {
          const unpaired = open.pop();
          if (unpaired) drop(unpaired.at, unpaired.at + unpaired.size);
        }
        open.pop();
        remaining -= opener.size;
        at += opener.size;
      }
    }
    if (remaining === 0) continue;
    if (canOpen) {
      if (remaining === 3) open.push({ character, size: 2, at }, { character, size: 1, at: at + 2 });
      else open.push({ character, size: remaining, at });
    } else if (canClose || remaining > 1 || at + remaining === text.length) drop(at, at + remaining);
  }
  for (const unpaired of open) drop(unpaired.at, unpaired.at + unpaired.size);

  if (dropped.size === 0) return text;
  let result = '';
  for (let index = 0; index < text.length; index++) if (!dropped.has(index)) result += text[index];
  return result;
}

interface Delimiter {
  character: string;
  size: number;
  at: number;
}

function findOpener(
  open: readonly Delimiter[],
  character: string,
  fits: (size: number) => boolean,
): Delimiter | undefined {
  for (let index = open.length - 1; index >= 0; index--) {
    const candidate = open[index];
    if (candidate?.character === character && fits(candidate.size)) return candidate;
  }
  return undefined;
}

function runLength(text: string, start: number, character: string): number {
  let end = start;
  while (text[end] === character) end++;
  return end - start;
}

/** `***`, `* * *` or `___` alone on a line. */
function thematicBreak(text: string, index: number): boolean {
  const lineStart = text.lastIndexOf('\n', index - 1) + 1;
  const lineEnd = text.indexOf('\n', index);
  const line = text.slice(lineStart, lineEnd === -1 ? undefined : lineEnd);
  return /^\s{0,3}(?:(?:\*\s*){3,}|(?:_\s*){3,}|(?:-\s*){3,})$/.test(line);
}
