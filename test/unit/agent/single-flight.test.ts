import path from 'node:path';
import Keyv from 'keyv';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPrompts, type Prompts } from '../../../src/agent/prompts.ts';
import { type AgentEvent, type PassageSource, SupportAgent } from '../../../src/agent/support-agent.ts';
import { AnswerCache } from '../../../src/cache/answer-cache.ts';
import { projectRoot } from '../../../src/config/load.ts';
import { ThreadStore } from '../../../src/conversation/thread-store.ts';
import type { RetrievedChunk } from '../../../src/knowledge/types.ts';
import type { AnswerEvent, AnswerModel } from '../../../src/llm/answer-model.ts';
import type { IntentClassifier } from '../../../src/llm/intents.ts';

/**
 * Identical questions at the same moment share one generation (single-flight), but not its
 * failure and not its asker: the first asker leaving, or the knowledge base failing under it,
 * must leave every other asker with a reply — and a hand-off — of their own.
 */
const passage: RetrievedChunk = {
  id: 'care/sleeping-bags:0',
  documentId: 'care/sleeping-bags',
  title: 'Caring for your sleeping bag',
  headingPath: '',
  text: 'Wash your sleeping bag by hand or in a front-loading machine on a gentle cycle with down soap.',
  index: 0,
  score: 1,
};
const policy: IntentClassifier = {
  classify: async () => ({ intent: 'policy_question', confidence: 0.95, source: 'local' }),
};
const model: AnswerModel = {
  id: 'scripted:1',
  kind: 'openai',
  async *streamAnswer(): AsyncIterable<AnswerEvent> {
    for (const word of 'Wash it by hand or on a gentle cycle with down soap [1].'.split(/(?<= )/))
      yield { type: 'delta', text: word };
    yield { type: 'end', finishReason: 'stop' };
  },
};

/** A knowledge base whose searches wait until the test settles them; an abort rejects at once. */
function heldSearches() {
  const pending: { resolve: (chunks: RetrievedChunk[]) => void; reject: (error: Error) => void }[] = [];
  const source: PassageSource = {
    version: async () => 'kb-1',
    search: (_query, _k, options) =>
      new Promise<RetrievedChunk[]>((resolve, reject) => {
        const signal = options?.signal;
        if (signal?.aborted) return reject(signal.reason);
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
        pending.push({ resolve, reject });
      }),
  };
  return { source, pending };
}

async function reply(
  agent: SupportAgent,
  userId: string,
  threadId: string,
  text: string,
  signal?: AbortSignal,
): Promise<(AgentEvent & { type: 'answer-end' }) | undefined> {
  try {
    for await (const event of agent.handle(
      { platform: 'http', channelId: 'web', threadId, messageId: `m-${threadId}`, userId, text },
      signal ? { signal } : {},
    )) {
      if (event.type === 'answer-end') return event;
    }
  } catch (error) {
    if (!signal?.aborted) throw error;
  }
  return undefined;
}

const until = async (probe: () => boolean) => {
  for (let tries = 0; tries < 200 && !probe(); tries++)
    await new Promise((resolve) => setTimeout(resolve, 5));
};

describe('single-flight followers', () => {
  let prompts: Prompts;
  beforeAll(async () => {
    prompts = await loadPrompts(path.join(projectRoot, 'config', 'prompts.yaml'));
  });

  const agentWith = (source: PassageSource) => {
    const threads = new ThreadStore({ store: new Keyv() });
    const agent = new SupportAgent({
      tenant: 't',
      passages: async () => source,
      classifier: policy,
      answerModel: model,
      prompts,
      threads,
      cache: new AnswerCache({ store: new Keyv(), ttlMs: 60_000 }),
    });
    return { agent, threads };
  };
  const question = 'How do I clean my sleeping bag?';

  it('keep the shared answer when the first asker leaves while the knowledge base is slow', async () => {
    const { source, pending } = heldSearches();
    const { agent } = agentWith(source);
    const leaving = new AbortController();
    const first = reply(agent, 'first-asker', 'thread-1', question, leaving.signal);
    await until(() => pending.length > 0);
    const others = [
      reply(agent, 'second-asker', 'thread-2', question),
      reply(agent, 'third-asker', 'thread-3', question),
    ];
    await new Promise((resolve) => setTimeout(resolve, 20));
    leaving.abort();
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (const search of pending) search.resolve([passage]);
    await first;
    for (const end of await Promise.all(others)) {
      expect(end?.text).toContain('gentle cycle');
      expect(end?.handoff).toBeUndefined();
      expect(end?.degraded).toBeUndefined();
    }
  });

  it('each get a hand-off of their own, naming them, when the knowledge base fails under the first', async () => {
    const { source, pending } = heldSearches();
    const { agent, threads } = agentWith(source);
    const askers = ['asker-a', 'asker-b', 'asker-c'];
    const replies = askers.map((userId) => reply(agent, userId, `thread-${userId}`, question));
    await until(() => pending.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Every search (the first asker's, and any a follower makes of its own) fails.
    const failing = setInterval(() => {
      for (const search of pending.splice(0)) search.reject(new Error('chroma: connection reset'));
    }, 5);
    try {
      const ends = await Promise.all(replies);
      for (const [index, end] of ends.entries()) {
        const userId = askers[index] as string;
        expect(end?.text).toBe(prompts.replies.knowledgeDown);
        expect(end?.handoff?.reason).toBe('knowledge_unavailable');
        expect(end?.handoff?.summary).toContain(userId);
        for (const stranger of askers.filter((other) => other !== userId))
          expect(end?.handoff?.summary).not.toContain(stranger);
        const thread = await threads.get({ tenant: 't', platform: 'http', threadId: `thread-${userId}` });
        expect(thread.owner).toBe('staff');
      }
    } finally {
      clearInterval(failing);
    }
  });
});
