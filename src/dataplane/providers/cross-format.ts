/**
 * Plugs the translators into the fallback chain: when a target speaks another API than the app
 * (OpenAI ⇄ Anthropic), its request is translated and its answer converted back, streams chunk
 * by chunk. Only chat requests translate; a request that cannot be served faithfully skips the
 * target with the translator's reason.
 */
import type { CompiledUpstream } from '../../snapshot/snapshot.ts';
import { parseJsonObject } from '../../shared/json-object.ts';
import type { ClientRequest } from '../request/client-request.ts';
import type { SseEvent } from '../sse/sse-reader.ts';
import { joinPath } from './base-url.ts';
import {
  AnthropicToOpenaiStream,
  anthropicErrorToOpenai,
  anthropicMessageToOpenai,
  anthropicMessagesToOpenai,
  openaiChatToAnthropic,
  openaiCompletionToAnthropic,
  openaiErrorToAnthropic,
  OpenaiToAnthropicStream,
  wantsStreamUsage,
} from './translate/index.ts';

/** Turns one upstream event stream into the app's API, event by event. */
export interface EventTranslator {
  /** Text to send to the app for this upstream event (may be empty). */
  push(event: SseEvent): string;
  /** True once the translated stream is over (terminator or error sent). */
  readonly finished: boolean;
  /**
   * True when the upstream's terminator came before its answer was whole (an OpenAI stream
   * without a finish_reason): nothing was sent for it, and the stream is interrupted, not over.
   */
  readonly cutShort: boolean;
}

/** How a target's answer in another API becomes the app's. */
export interface AnswerConversion {
  /**
   * Converts a complete JSON body (an answer or an error) into the app's API; undefined when
   * the answer holds something the app's API cannot express (the chain then moves on).
   */
  body(status: number, body: Buffer): Buffer | undefined;
  /** A translator for one event stream. */
  events(): EventTranslator;
}

export type CrossFormatPlan =
  | {
      readonly ok: true;
      readonly path: string;
      readonly body: Buffer;
      readonly headers: Record<string, string>;
      readonly conversion: AnswerConversion;
    }
  | { readonly ok: false; readonly reason: string };

export interface CrossFormatInput {
  readonly client: ClientRequest;
  readonly target: CompiledUpstream;
  readonly model: string;
  /** The policy's key for the target (a translated request never carries the app's key). */
  readonly key: string;
  /** Passed through when the app sent them (harmless, and useful in provider logs). */
  readonly userAgent: string | undefined;
  /** Unix seconds for `created` of translated answers. */
  readonly nowSeconds: number;
}

export function planCrossFormat(input: CrossFormatInput): CrossFormatPlan {
  // Parsed here, once, only because the chain reached a target that needs a translation.
  const json = input.client.endpoint === 'chat' ? input.client.parsed() : undefined;
  if (json === undefined) {
    return { ok: false, reason: 'only chat requests translate between APIs' };
  }
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'accept-encoding': 'identity',
    ...(input.userAgent === undefined ? {} : { 'user-agent': input.userAgent }),
  };
  if (input.client.api === 'openai-chat') {
    const version = input.target.apiVersion ?? '2023-06-01';
    const translated = openaiChatToAnthropic(json, input.model, {
      anthropicVersion: version,
    });
    if (!translated.ok) return translated;
    headers['x-api-key'] = input.key;
    headers['anthropic-version'] = version;
    const includeUsage = wantsStreamUsage(json);
    return {
      ok: true,
      path: joinPath(input.target.baseURL, '/v1/messages'),
      body: Buffer.from(JSON.stringify(translated.body)),
      headers,
      conversion: {
        body: (status, raw) => {
          const parsed = parseJsonObject(raw.toString('utf8'));
          if (status >= 400) return toJson(anthropicErrorToOpenai(status, parsed).body);
          const answer = anthropicMessageToOpenai(parsed, input.nowSeconds);
          return answer.ok ? toJson(answer.body) : undefined;
        },
        events: () => new AnthropicToOpenaiStream({ includeUsage, created: input.nowSeconds }),
      },
    };
  }
  const translated = anthropicMessagesToOpenai(json, input.model);
  if (!translated.ok) return translated;
  let path = joinPath(input.target.baseURL, '/v1/chat/completions');
  if (input.target.provider === 'azure-openai') {
    headers['api-key'] = input.key;
    const version = encodeURIComponent(input.target.apiVersion ?? '2024-10-21');
    path = joinPath(
      input.target.baseURL,
      `/openai/deployments/${encodeURIComponent(input.model)}/chat/completions?api-version=${version}`,
    );
  } else {
    headers.authorization = `Bearer ${input.key}`;
  }
  return {
    ok: true,
    path,
    body: Buffer.from(JSON.stringify(translated.body)),
    headers,
    conversion: {
      body: (status, raw) => {
        const parsed = parseJsonObject(raw.toString('utf8'));
        if (status >= 400) return toJson(openaiErrorToAnthropic(status, parsed).body);
        const answer = openaiCompletionToAnthropic(parsed);
        return answer.ok ? toJson(answer.body) : undefined;
      },
      events: () => new OpenaiToAnthropicStream(),
    },
  };
}

function toJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}
