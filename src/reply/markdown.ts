/**
 * Markdown for chat platforms: the model writes CommonMark; Slack wants mrkdwn, Discord a close
 * cousin of CommonMark. Code (fenced and inline) passes through untouched but for Slack's
 * required escapes.
 */

const fenceLine = /^\s{0,3}(`{3,}|~{3,})/;

/** Splits text into code (fences, inline) and prose, so conversions touch prose only. */
function mapProse(text: string, convert: (prose: string) => string): string {
  const lines = text.split('\n');
  const out: string[] = [];
  let prose: string[] = [];
  let fence: string | undefined;
  const flush = () => {
    if (prose.length > 0) out.push(convertInline(prose.join('\n'), convert));
    prose = [];
  };
  for (const line of lines) {
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
  return out.join('\n');
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
