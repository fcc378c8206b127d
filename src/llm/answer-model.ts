import type { RetrievedChunk } from '../knowledge/types.ts';

/** A turn of the conversation, oldest first. */
export interface ConversationTurn {
  question: string;
  answer: string;
}

/** What an answer is generated from. */
export interface AnswerRequest {
  /** The system prompt: role, tone guidelines and rules. */
  systemPrompt: string;
  question: string;
  /** The retrieved passages, best first; answers must be grounded in them. */
  passages: readonly RetrievedChunk[];
  history: readonly ConversationTurn[];
  signal?: AbortSignal;
}

/** Tokens spent by one model call. */
export interface TokenUsage {
  model: string;
  promptTokens: number;
  completionTokens: number;
}

/**
 * Why the model stopped, as the chat-completions API reports it. Only `stop` means a complete answer:
 * `length` was cut at the token limit, `content_filter` had content withheld, `tool_calls` and
 * `function_call` stopped to call a tool.
 *
 * @see https://github.com/openai/openai-openapi (components.schemas.CreateChatCompletionStreamResponse, choices[].finish_reason)
 */
export type FinishReason = 'stop' | 'length' | 'content_filter' | 'tool_calls' | 'function_call';

/** What an answer stream yields: text as it arrives, then how it ended. */
export type AnswerEvent =
  | { type: 'delta'; text: string }
  | {
      type: 'end';
      usage?: TokenUsage;
      /** The model's reason for stopping; `null` when the stream ended without giving one. */
      finishReason: FinishReason | null;
    };

/**
 * Writes answers as a stream. One interface for the strong OpenAI model and the offline extractive
 * provider. A stream that fails before its first delta may be retried by the caller; one that fails
 * after must not be (the customer has seen the text).
 */
export interface AnswerModel {
  /** Names the provider and model, e.g. `openai:gpt-4-turbo` or `offline:extractive`. Part of cache keys. */
  readonly id: string;
  /** `offline` answers are labelled as such in replies' metadata. */
  readonly kind: 'openai' | 'offline';
  streamAnswer(request: AnswerRequest): AsyncIterable<AnswerEvent>;
}

/** Formats passages for a prompt, numbered so answers can cite them. */
export function formatPassages(passages: readonly RetrievedChunk[]): string {
  return passages
    .map((passage, index) => {
      const heading = passage.headingPath ? ` > ${passage.headingPath}` : '';
      return `[${index + 1}] ${passage.title}${heading} (${passage.documentId})\n${passage.text}`;
    })
    .join('\n\n');
}
