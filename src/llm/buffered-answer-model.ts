import type { AnswerEvent, AnswerModel, AnswerRequest } from './answer-model.ts';

/**
 * An answer model that waits for the whole answer before giving any of it: how the replaced system
 * worked (its RAG answers took 19–25 s to appear). Used only by the `baseline` pipeline that
 * `npm run load` compares against.
 */
export class BufferedAnswerModel implements AnswerModel {
  readonly id: string;
  readonly kind: AnswerModel['kind'];
  readonly #inner: AnswerModel;

  constructor(inner: AnswerModel) {
    this.#inner = inner;
    this.id = inner.id;
    this.kind = inner.kind;
  }

  async *streamAnswer(request: AnswerRequest): AsyncIterable<AnswerEvent> {
    let text = '';
    let end: AnswerEvent | undefined;
    for await (const event of this.#inner.streamAnswer(request)) {
      if (event.type === 'delta') text += event.text;
      else end = event;
    }
    if (text) yield { type: 'delta', text };
    if (end) yield end;
  }
}
