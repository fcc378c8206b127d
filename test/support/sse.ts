/** One reply read from the HTTP adapter's Server-Sent Events. */
export interface SseReply {
  status: number;
  events: { event: string; data: Record<string, unknown> }[];
  start: Record<string, unknown> | undefined;
  end: Record<string, unknown> | undefined;
  /** The deltas joined, as a client that only appends would show them. */
  streamed: string;
  /** When the first delta arrived, in ms after the request. */
  firstDeltaMs: number | undefined;
}

/** Posts a message to `/v1/messages` and reads the whole event stream. */
export async function postMessage(
  baseUrl: string,
  body: { conversationId?: string; userId?: string; text: string },
  signal?: AbortSignal,
): Promise<SseReply> {
  const started = performance.now();
  const response = await fetch(new URL('/v1/messages', baseUrl), {
    method: 'POST',
    ...(signal ? { signal } : {}),
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId: 'customer-1', ...body }),
  });
  const events: SseReply['events'] = [];
  let firstDeltaMs: number | undefined;
  if (!response.body) throw new Error('no body');
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const part of response.body) {
    buffer += decoder.decode(part as Uint8Array, { stream: true });
    let boundary = buffer.indexOf('\n\n');
    while (boundary !== -1) {
      const block = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? '{}') as Record<string, unknown>;
      if (event === 'answer-delta') firstDeltaMs ??= performance.now() - started;
      events.push({ event, data });
      boundary = buffer.indexOf('\n\n');
    }
  }
  return {
    status: response.status,
    events,
    start: events.find((item) => item.event === 'answer-start')?.data,
    end: events.find((item) => item.event === 'answer-end')?.data,
    streamed: events
      .filter((item) => item.event === 'answer-delta')
      .map((item) => String(item.data.text))
      .join(''),
    firstDeltaMs,
  };
}
