import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  anthropicMessagesToOpenai,
  openaiChatToAnthropic,
  type AnthropicMessagesRequest,
  type OpenaiChatRequest,
  type OpenaiMessage,
} from '../../../src/dataplane/providers/translate/index.ts';

function toAnthropic(body: object): AnthropicMessagesRequest {
  const result = openaiChatToAnthropic(body as Record<string, unknown>, 'claude-haiku-4-5');
  if (!result.ok) throw new Error(result.reason);
  return result.body;
}

function toOpenai(body: object): OpenaiChatRequest {
  const result = anthropicMessagesToOpenai(body as Record<string, unknown>, 'gpt-4o-mini');
  if (!result.ok) throw new Error(result.reason);
  return result.body;
}

/** Text of string or text-part content, the way a model reads it. */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((part: { text?: string }) => part.text ?? '').join('');
}

const text = fc.string({ minLength: 1, maxLength: 30 });
/** user, assistant, user, … ending with the user. */
const turns = fc.array(fc.tuple(text, text), { maxLength: 4 }).chain((pairs) =>
  text.map((last) => [
    ...pairs.flatMap(([user, assistant]) => [
      { role: 'user', content: user },
      { role: 'assistant', content: assistant },
    ]),
    { role: 'user', content: last },
  ]),
);
const stop = fc.option(fc.array(text, { minLength: 1, maxLength: 4 }), { nil: undefined });
const maxTokens = fc.option(fc.integer({ min: 1, max: 128_000 }), { nil: undefined });
const sampling = fc.oneof(
  fc.constant({}),
  fc.double({ min: 0, max: 1, noNaN: true }).map((temperature) => ({ temperature })),
  fc.double({ min: 0, max: 1, noNaN: true }).map((top_p) => ({ top_p })),
);

describe('request round trips', () => {
  it('OpenAI → Anthropic → OpenAI keeps roles, text, system, max tokens, stop and sampling', () => {
    fc.assert(
      fc.property(
        fc.option(text, { nil: undefined }),
        turns,
        maxTokens,
        stop,
        sampling,
        (system, messages, max, stopSequences, params) => {
          const original: Record<string, unknown> = {
            model: 'gpt-4o',
            messages:
              system === undefined ? messages : [{ role: 'system', content: system }, ...messages],
            ...params,
          };
          if (max !== undefined) original.max_completion_tokens = max;
          if (stopSequences !== undefined) original.stop = stopSequences;
          const back = toOpenai(toAnthropic(original));
          const expected: { role: string; content: string }[] =
            system === undefined ? messages : [{ role: 'system', content: system }, ...messages];
          expect(back.messages.map((m) => ({ role: m.role, content: textOf(m.content) }))).toEqual(
            expected,
          );
          expect(back.max_completion_tokens).toBe(max ?? 4096);
          expect(back.stop).toEqual(stopSequences);
          // 1 is the default on both sides and is not sent.
          const { temperature, top_p } = params as { temperature?: number; top_p?: number };
          expect(back.temperature).toBe(temperature === 1 ? undefined : temperature);
          expect(back.top_p).toBe(top_p === 1 ? undefined : top_p);
        },
      ),
    );
  });

  it('OpenAI → Anthropic → OpenAI keeps tool call ids, names, arguments and results', () => {
    const call = fc.record({
      id: fc.stringMatching(/^call_[A-Za-z0-9]{8,24}$/),
      name: fc.stringMatching(/^[a-z][a-z_]{0,15}$/),
      args: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), {
        maxKeys: 3,
      }),
      result: text,
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(call, { minLength: 1, maxLength: 4, selector: (c) => c.id }),
        (calls) => {
          const original = {
            model: 'gpt-4o',
            messages: [
              { role: 'user', content: 'Go' },
              {
                role: 'assistant',
                content: null,
                tool_calls: calls.map((c) => ({
                  id: c.id,
                  type: 'function',
                  function: { name: c.name, arguments: JSON.stringify(c.args) },
                })),
              },
              ...calls.map((c) => ({ role: 'tool', tool_call_id: c.id, content: c.result })),
            ],
          };
          const back = toOpenai(toAnthropic(original)).messages;
          const assistant = back[1] as Extract<OpenaiMessage, { role: 'assistant' }>;
          expect(
            assistant.tool_calls?.map((t) => ({
              id: t.id,
              name: t.function.name,
              args: JSON.parse(t.function.arguments) as unknown,
            })),
          ).toEqual(
            calls.map((c) => ({
              id: c.id,
              name: c.name,
              args: JSON.parse(JSON.stringify(c.args)) as unknown,
            })),
          );
          expect(back.slice(2)).toEqual(
            calls.map((c) => ({ role: 'tool', tool_call_id: c.id, content: c.result })),
          );
        },
      ),
    );
  });

  it('Anthropic → OpenAI → Anthropic keeps system, roles, text, max tokens and stop sequences', () => {
    fc.assert(
      fc.property(
        fc.option(text, { nil: undefined }),
        turns,
        fc.integer({ min: 1, max: 128_000 }),
        stop,
        (system, messages, max, stopSequences) => {
          const original: Record<string, unknown> = {
            model: 'claude-sonnet-4-6',
            max_tokens: max,
            messages,
          };
          if (system !== undefined) original.system = system;
          if (stopSequences !== undefined) original.stop_sequences = stopSequences;
          const back = toAnthropic(toOpenai(original));
          expect(back.system).toBe(system);
          expect(back.messages).toEqual(messages);
          expect(back.max_tokens).toBe(max);
          expect(back.stop_sequences).toEqual(stopSequences);
        },
      ),
    );
  });
});
