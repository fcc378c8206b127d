import type OpenAI from 'openai';
import { APIError } from 'openai';
import { describe, expect, it } from 'vitest';
import { ModelError } from '../../../src/errors.ts';
import { intentNames } from '../../../src/llm/intents.ts';
import {
  type ClassifierFormat,
  defaultClassifierFormat,
  OpenAIIntentClassifier,
  parseDecision,
} from '../../../src/llm/openai-intent-classifier.ts';

const definitions = intentNames.map((name) => ({ name, description: `about ${name}`, examples: [] }));

type Body = OpenAI.ChatCompletionCreateParamsNonStreaming;

/** A client whose chat.completions.create answers with `reply`, recording each request body. */
function stubClient(reply: (body: Body) => OpenAI.ChatCompletion | Error) {
  const bodies: Body[] = [];
  const client = {
    chat: {
      completions: {
        create: async (body: Body) => {
          bodies.push(body);
          const result = reply(body);
          if (result instanceof Error) throw result;
          return result;
        },
      },
    },
  } as unknown as OpenAI;
  return { client, bodies };
}

function completion(message: Partial<OpenAI.ChatCompletionMessage>): OpenAI.ChatCompletion {
  return {
    id: 'c',
    object: 'chat.completion',
    created: 1,
    model: 'm',
    choices: [
      {
        index: 0,
        finish_reason: 'stop',
        logprobs: null,
        message: { role: 'assistant', content: null, refusal: null, ...message },
      },
    ],
  };
}

const refusal = (param: string, message: string) =>
  APIError.generate(
    400,
    { error: { message, type: 'invalid_request_error', param, code: null } },
    undefined,
    new Headers(),
  );
const jsonSchemaRefusal = refusal(
  'response_format',
  "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
);
const jsonWordRefusal = refusal(
  'messages',
  "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
);

describe('defaultClassifierFormat', () => {
  it.each([
    ['gpt-4o-mini', 'json_schema'],
    ['gpt-4o-mini-2024-07-18', 'json_schema'],
    ['gpt-4o', 'json_schema'],
    ['gpt-4o-2024-08-06', 'json_schema'],
    ['gpt-4o-2024-11-20', 'json_schema'],
    ['gpt-4.1-nano', 'json_schema'],
    ['gpt-5-mini', 'json_schema'],
    ['o1', 'json_schema'],
    ['o3-mini', 'json_schema'],
    ['o4-mini', 'json_schema'],
    ['gpt-3.5-turbo', 'json_object'],
    ['gpt-3.5-turbo-0125', 'json_object'],
    ['gpt-4', 'json_object'],
    ['gpt-4-0613', 'json_object'],
    ['gpt-4-turbo', 'json_object'],
    ['gpt-4-turbo-2024-04-09', 'json_object'],
    ['gpt-4o-2024-05-13', 'json_object'],
    ['llama-3.1-8b-instruct', 'json_schema'],
  ])('%s starts with %s', (model, format) => {
    expect(defaultClassifierFormat(model)).toBe(format);
  });
});

describe('parseDecision', () => {
  it.each([
    ['{"intent":"complaint","confidence":0.8}', 'complaint', 0.8],
    ['```json\n{"intent": "order_status", "confidence": 0.7}\n```', 'order_status', 0.7],
    ['Sure! {"intent": "refund_request", "confidence": "0.6"} hope that helps', 'refund_request', 0.6],
    ['policy_question', 'policy_question', 0.5],
    ['The intent is product inquiry.', 'product_inquiry', 0.5],
    ['{"intent":"weather","confidence":2}', 'other', 1],
    ['no idea', 'other', 0.5],
    ['', 'other', 0.5],
  ])('reads %j as %s', (content, intent, confidence) => {
    expect(parseDecision(content)).toEqual({ intent, confidence, source: 'model' });
  });
});

describe('OpenAIIntentClassifier', () => {
  const answer = completion({ content: '{"intent":"complaint","confidence":0.9}' });

  it.each([
    ['gpt-4o-mini', 'auto', 'json_schema'],
    ['gpt-3.5-turbo', 'auto', 'json_object'],
    ['gpt-3.5-turbo', 'text', undefined],
    ['gpt-4o-mini', 'json_object', 'json_object'],
  ] as const)('asks %s (format %s) with response_format %s', async (model, format, expected) => {
    const { client, bodies } = stubClient(() => answer);
    const classifier = new OpenAIIntentClassifier({ client, definitions, model, format });
    expect(await classifier.classify('this is unacceptable')).toMatchObject({ intent: 'complaint' });
    expect(bodies[0]?.response_format?.type).toBe(expected);
    expect(bodies[0]?.tools).toBeUndefined();
    // JSON mode needs the word in the messages.
    expect(JSON.stringify(bodies[0]?.messages)).toMatch(/json/i);
  });

  it('asks with a forced function call in the tool format and reads its arguments', async () => {
    const { client, bodies } = stubClient(() =>
      completion({
        tool_calls: [
          {
            id: 'call_1',
            type: 'function',
            function: { name: 'classify_intent', arguments: '{"intent":"order_status","confidence":0.75}' },
          },
        ],
      }),
    );
    const classifier = new OpenAIIntentClassifier({ client, definitions, format: 'tool' });
    expect(await classifier.classify('where is my parcel')).toEqual({
      intent: 'order_status',
      confidence: 0.75,
      source: 'model',
    });
    expect(bodies[0]).toMatchObject({
      tools: [{ type: 'function', function: { name: 'classify_intent' } }],
      tool_choice: { type: 'function', function: { name: 'classify_intent' } },
    });
    expect(bodies[0]?.response_format).toBeUndefined();
  });

  it('steps down json_schema → json_object → text on refusals, remembers it, and logs each once', async () => {
    const { client, bodies } = stubClient((body) => {
      if (body.response_format?.type === 'json_schema') return jsonSchemaRefusal;
      if (body.response_format?.type === 'json_object') return jsonWordRefusal;
      return answer;
    });
    const logged: string[] = [];
    const logger = {
      info: (_fields: object | string, message?: string) => logged.push(String(message)),
      warn() {},
      error() {},
      debug() {},
    };
    const classifier = new OpenAIIntentClassifier({ client, definitions, model: 'acme-small', logger });
    expect(classifier.format).toBe('json_schema');
    expect(await classifier.classify('this is unacceptable')).toMatchObject({ intent: 'complaint' });
    expect(bodies.map((body) => body.response_format?.type)).toEqual([
      'json_schema',
      'json_object',
      undefined,
    ]);
    expect(classifier.format).toBe('text');
    await classifier.classify('still unacceptable');
    expect(bodies).toHaveLength(4);
    expect(bodies[3]?.response_format).toBeUndefined();
    expect(logged).toEqual([
      'intent model acme-small refused the json_schema format; asking with json_object from now on',
      'intent model acme-small refused the json_object format; asking with text from now on',
    ]);
  });

  it.each([
    ['a 400 about another parameter', refusal('temperature', "Unsupported value: 'temperature'.")],
    [
      'a 500',
      APIError.generate(500, { error: { message: 'boom', type: 'server_error' } }, undefined, new Headers()),
    ],
  ])('does not step down on %s: it fails as a ModelError', async (_name, error) => {
    const { client, bodies } = stubClient(() => error);
    const classifier = new OpenAIIntentClassifier({ client, definitions, model: 'gpt-4o-mini' });
    await expect(classifier.classify('hmm')).rejects.toBeInstanceOf(ModelError);
    expect(bodies).toHaveLength(1);
    expect(classifier.format).toBe('json_schema');
  });

  it('fails when even plain text is refused', async () => {
    const { client } = stubClient(() => jsonSchemaRefusal);
    const classifier = new OpenAIIntentClassifier({
      client,
      definitions,
      format: 'text' as ClassifierFormat,
    });
    await expect(classifier.classify('hmm')).rejects.toMatchObject({ status: 400, retryable: false });
  });
});
