import { describe, expect, it } from 'vitest';
import { createPromptGuard } from '../../../src/agent/prompt-guard.ts';

const rot13 = (text: string) =>
  text.replace(/[a-z]/gi, (letter) => {
    const base = letter <= 'Z' ? 65 : 97;
    return String.fromCharCode(((letter.charCodeAt(0) - base + 13) % 26) + base);
  });

describe('the canary', () => {
  const guard = createPromptGuard('You answer questions about tents and nothing else, ever.', {
    canary: 'qzvkxjwmpfhbtrly',
  });

  it('goes before and after the prompt the model receives', () => {
    expect(guard.prompt.startsWith('[qzvkxjwmpfhbtrly]\n')).toBe(true);
    expect(guard.prompt.endsWith('[qzvkxjwmpfhbtrly]')).toBe(true);
    expect(guard.prompt).toContain('never write it');
  });

  it.each([
    ['as written', 'Reference: qzvkxjwmpfhbtrly'],
    ['ten of its letters', 'ref kxjwmpfhbt'],
    ['spaced and capitalised', 'Q Z V K X J W M P F H B'],
    ['in base64', Buffer.from('code: qzvkxjwmpfhbtrly').toString('base64')],
    ['reversed', 'ylrtbhfpmwjxkvzq'],
    ['in rot13', rot13('qzvkxjwmpfhbtrly')],
  ])('gives the prompt away %s', (_name, answer) => {
    expect(guard.leaks(answer)).toBe(true);
  });

  it('differs between guards (processes)', () => {
    const other = createPromptGuard('You answer questions about tents and nothing else, ever.');
    expect(other.canary).toMatch(/^[a-z]{16}$/);
    expect(other.canary).not.toBe(createPromptGuard('same').canary);
    expect(other.leaks(guard.canary)).toBe(false);
  });
});
