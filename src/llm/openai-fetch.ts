/**
 * The `fetch` the OpenAI client sends its requests through. The SDK retries every 429 (honouring
 * Retry-After, else backing off exponentially) unless the response carries `x-should-retry: false`.
 * A 429 whose error is `insufficient_quota` will fail the same way on every retry, so it is given
 * that header here: the customer gets the fallback answer at once instead of after the SDK's
 * futile retries and their back-off.
 *
 * @see https://platform.openai.com/docs/guides/error-codes#api-errors (429 "You exceeded your current quota")
 */
export function createOpenAIFetch(inner: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const response = await inner(input, init);
    if (response.status !== 429 || response.headers.has('x-should-retry')) return response;
    const body = (await response
      .clone()
      .json()
      .catch(() => undefined)) as { error?: unknown } | undefined;
    if (!isQuotaExhausted(body?.error)) return response;
    const headers = new Headers(response.headers);
    headers.set('x-should-retry', 'false');
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  };
}

/** Whether an SDK error, or an API error object, says the account's quota is used up. */
export function isQuotaExhausted(error: unknown): boolean {
  const fields = error as { code?: unknown; type?: unknown } | null | undefined;
  return fields?.code === 'insufficient_quota' || fields?.type === 'insufficient_quota';
}
