import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { SharedStream } from '../../../src/cache/shared-stream.ts';

/** Lets a reader that is waiting on the stream run up to its next wait. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('SharedStream', () => {
  it('gives every reader every item from the first, then the end', async () => {
    const stream = new SharedStream<number>();
    stream.push(1);
    const early = (async () => {
      const items: number[] = [];
      for await (const item of stream.read()) items.push(item);
      return items;
    })();
    await settle();
    stream.push(2);
    stream.end();
    const late: number[] = [];
    for await (const item of stream.read()) late.push(item);
    expect(await early).toEqual([1, 2]);
    expect(late).toEqual([1, 2]);
  });

  it("leaves no abort listener on a follower's signal, however many items it waited for", async () => {
    const stream = new SharedStream<number>();
    const follower = new AbortController();
    const received: number[] = [];
    const reading = (async () => {
      for await (const item of stream.read(follower.signal)) received.push(item);
    })();
    const listenersWhileWaiting: number[] = [];
    for (let item = 0; item < 200; item++) {
      await settle();
      listenersWhileWaiting.push(getEventListeners(follower.signal, 'abort').length);
      stream.push(item);
    }
    stream.end();
    await reading;
    expect(received).toHaveLength(200);
    // One wait at a time, so never more than one listener; none once the reader is done.
    expect(Math.max(...listenersWhileWaiting)).toBe(1);
    expect(getEventListeners(follower.signal, 'abort')).toHaveLength(0);
  });

  it('wakes a waiting reader when its signal aborts, without ending the stream for others', async () => {
    const stream = new SharedStream<string>();
    stream.push('a');
    const follower = new AbortController();
    const items: string[] = [];
    const reading = (async () => {
      for await (const item of stream.read(follower.signal)) items.push(item);
    })();
    await settle();
    follower.abort(new Error('client disconnected'));
    await expect(reading).rejects.toThrow('client disconnected');
    expect(items).toEqual(['a']);
    expect(getEventListeners(follower.signal, 'abort')).toHaveLength(0);
    stream.push('b');
    stream.end();
    const others: string[] = [];
    for await (const item of stream.read()) others.push(item);
    expect(others).toEqual(['a', 'b']);
  });

  it('throws the error the stream ended with, after the items', async () => {
    const stream = new SharedStream<number>();
    stream.push(1);
    stream.end(new Error('generation failed'));
    const items: number[] = [];
    await expect(
      (async () => {
        for await (const item of stream.read()) items.push(item);
      })(),
    ).rejects.toThrow('generation failed');
    expect(items).toEqual([1]);
  });
});
