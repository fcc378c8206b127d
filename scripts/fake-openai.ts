/**
 * A local OpenAI-compatible server for trying the bot and for benchmarks:
 * `npm run fake-openai -- --port 8787 --ttft 800 --tps 40 [--answer-tokens 300] [--cheap-ttft 400]`
 * (`--ttft 0 --tps 0` answers at once, for measuring the bot's own overhead).
 */
import { parseArgs } from 'node:util';
import { startFakeOpenAI } from '../test/fakes/openai-server.ts';

function fail(message: string): never {
  process.stderr.write(`fake-openai: ${message}\n`);
  process.exit(1);
}

function number(
  name: string,
  value: string | undefined,
  fallback: number,
  { positive = false } = {},
): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0 || (positive && parsed === 0))
    fail(`--${name} must be a ${positive ? 'positive' : 'non-negative'} number, got "${value}"`);
  return parsed;
}

let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      port: { type: 'string' },
      ttft: { type: 'string' },
      tps: { type: 'string' },
      'answer-tokens': { type: 'string' },
      'cheap-ttft': { type: 'string' },
      'cheap-model': { type: 'string', default: 'gpt-3.5-turbo' },
    },
  });
}
try {
  parsed = parse();
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
const { values } = parsed;
const port = number('port', values.port, 8787);
if (!Number.isInteger(port) || port > 65_535) fail(`--port must be a port number, got "${values.port}"`);
const profile = {
  ttftMs: number('ttft', values.ttft, 1500),
  tokensPerSecond: number('tps', values.tps, 25), // 0: the whole answer at once
  answerTokens: number('answer-tokens', values['answer-tokens'], 300, { positive: true }),
};
const cheapModel = values['cheap-model'];
const cheapTtftMs = number('cheap-ttft', values['cheap-ttft'], 400);
const fake = await startFakeOpenAI({
  port,
  profile,
  profiles: { [cheapModel]: { ttftMs: cheapTtftMs } },
}).catch((error: unknown) => fail(`cannot listen on 127.0.0.1:${port}: ${String(error)}`));

process.stdout.write(
  `fake OpenAI at ${fake.url} (ttft ${profile.ttftMs} ms, ${profile.tokensPerSecond} tokens/s, ` +
    `${profile.answerTokens}-token answers; ${cheapModel} ttft ${cheapTtftMs} ms)\n` +
    `try: OPENAI_BASE_URL=${fake.url} OPENAI_API_KEY=test EMBEDDINGS_PROVIDER=offline npm start\n`,
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void fake.close().then(() => process.exit(0));
  });
}
