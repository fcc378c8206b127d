import path from 'node:path';
import Keyv from 'keyv';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPrompts, type Prompts } from '../../../src/agent/prompts.ts';
import { type AgentEvent, type PassageSource, SupportAgent } from '../../../src/agent/support-agent.ts';
import { AnswerCache } from '../../../src/cache/answer-cache.ts';
import { projectRoot } from '../../../src/config/load.ts';
import { ThreadStore } from '../../../src/conversation/thread-store.ts';
import type { RetrievedChunk } from '../../../src/knowledge/types.ts';
import type { AnswerEvent, AnswerModel, FinishReason } from '../../../src/llm/answer-model.ts';
import type { IntentClassifier } from '../../../src/llm/intents.ts';
import { createMetrics } from '../../../src/observability/metrics.ts';

const passage: RetrievedChunk = {
  id: 'policies/returns:0',
  documentId: 'policies/returns',
  title: 'Returns',
  headingPath: '',
  text: 'You can return most items within 30 days of delivery. Items must be unused and in their original packaging with all tags attached.',
  index: 0,
  score: 1,
};
const passages: PassageSource = { search: async () => [passage], version: async () => 'kb-1' };
const policy: IntentClassifier = {
  classify: async () => ({ intent: 'policy_question', confidence: 0.9, source: 'local' }),
};
const answer =
  'You can return most items within 30 days of delivery [1]. Items must be unused and in their original packaging with';

/** An answer model that streams `text` word by word, then ends with `finishReason`. */
function scriptedModel(text: string, finishReason: FinishReason | null): AnswerModel & { calls: number } {
  return {
    id: 'scripted:1',
    kind: 'openai',
    calls: 0,
    async *streamAnswer(): AsyncIterable<AnswerEvent> {
      this.calls++;
      for (const word of text.match(/\s*\S+/g) ?? []) yield { type: 'delta', text: word };
      yield { type: 'end', finishReason };
    },
  };
}

async function ask(agent: SupportAgent, text: string) {
  const events: AgentEvent[] = [];
  for await (const event of agent.handle({
    platform: 'http',
    channelId: 'c',
    threadId: `t-${Math.random()}`,
    messageId: 'm',
    userId: 'u',
    text,
  }))
    events.push(event);
  const end = events.find((event) => event.type === 'answer-end');
  const start = events.find((event) => event.type === 'answer-start');
  if (end?.type !== 'answer-end' || start?.type !== 'answer-start') throw new Error('no reply');
  return { start, end };
}

describe('answers whose stream did not end with stop', () => {
  let prompts: Prompts;
  beforeAll(async () => {
    prompts = await loadPrompts(path.join(projectRoot, 'config', 'prompts.yaml'));
  });

  const agentWith = (model: AnswerModel) => {
    const metrics = createMetrics({ processMetrics: false });
    const agent = new SupportAgent({
      tenant: 't',
      passages: async () => passages,
      classifier: policy,
      answerModel: model,
      prompts,
      threads: new ThreadStore({ store: new Keyv() }),
      cache: new AnswerCache({ store: new Keyv(), ttlMs: 60_000 }),
      metrics,
    });
    const degraded = async (reason: string) =>
      (await metrics.degraded.get()).values.find((value) => value.labels.reason === reason)?.value ?? 0;
    return { agent, degraded };
  };

  it('serves a complete (stop) answer and caches it', async () => {
    const model = scriptedModel('You can return most items within 30 days of delivery [1].', 'stop');
    const { agent } = agentWith(model);
    const first = await ask(agent, 'How long do I have to return something?');
    expect(first.end.degraded).toBeUndefined();
    expect((await ask(agent, 'How long do I have to return something?')).start.cache).toBe('hit');
    expect(model.calls).toBe(1);
  });

  it('cuts a length-limited answer back to its last whole sentence, says so, offers a person, never caches it', async () => {
    const model = scriptedModel(answer, 'length');
    const { agent, degraded } = agentWith(model);
    const first = await ask(agent, 'How long do I have to return something?');
    expect(first.end.degraded).toBe('cut_length');
    expect(first.end.text).toBe(
      `You can return most items within 30 days of delivery [1].\n\n${prompts.replies.cutLength}`,
    );
    expect(prompts.replies.cutLength).toMatch(/connect you with a person/);
    expect(await degraded('cut_length')).toBe(1);
    const again = await ask(agent, 'How long do I have to return something?');
    expect(again.start.cache).toBe('miss');
    expect(model.calls).toBe(2);
  });

  it('replaces a filtered answer with a polite line and the offer of a person', async () => {
    const model = scriptedModel(answer, 'content_filter');
    const { agent, degraded } = agentWith(model);
    const reply = await ask(agent, 'How long do I have to return something?');
    expect(reply.end).toMatchObject({ degraded: 'content_filter', text: prompts.replies.contentFiltered });
    expect(reply.end.text).not.toContain('original packaging');
    expect(await degraded('content_filter')).toBe(1);
    expect((await ask(agent, 'How long do I have to return something?')).start.cache).toBe('miss');
  });

  it.each([
    [null, 'model_interrupted'],
    ['tool_calls', 'model_interrupted'],
    ['function_call', 'model_interrupted'],
  ] as const)(
    'finishes an answer that ended with %s honestly (%s), uncached',
    async (finishReason, reason) => {
      const model = scriptedModel(answer, finishReason);
      const { agent, degraded } = agentWith(model);
      const reply = await ask(agent, 'How long do I have to return something?');
      expect(reply.end).toMatchObject({
        degraded: reason,
        text: `${answer}\n\n${prompts.replies.interrupted}`,
      });
      expect(await degraded(reason)).toBe(1);
      expect((await ask(agent, 'How long do I have to return something?')).start.cache).toBe('miss');
    },
  );

  it('falls back to the passages when the stream ended before any text', async () => {
    const { agent } = agentWith(scriptedModel('', null));
    const reply = await ask(agent, 'How long do I have to return something?');
    expect(reply.end.degraded).toBe('model_unavailable');
    expect(reply.end.text).toContain('30 days');
    expect(reply.end.text).toContain(prompts.replies.offerHuman);
  });

  it('counts a classification that fell back to the local answer, by reason', async () => {
    const metrics = createMetrics({ processMetrics: false });
    const agent = new SupportAgent({
      tenant: 't',
      passages: async () => passages,
      classifier: {
        classify: async () => ({
          intent: 'policy_question',
          confidence: 0.5,
          source: 'local',
          fallback: 'deadline',
        }),
      },
      answerModel: scriptedModel('You can return most items within 30 days of delivery [1].', 'stop'),
      prompts,
      threads: new ThreadStore({ store: new Keyv() }),
      metrics,
    });
    await ask(agent, 'How long do I have to return something?');
    const values = (await metrics.classifierFallbacks.get()).values;
    expect(values).toEqual([expect.objectContaining({ labels: { reason: 'deadline' }, value: 1 })]);
  });
});
