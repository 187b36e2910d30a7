/**
 * Plugs the translators into the fallback chain: when a target speaks another API than the app
 * (OpenAI ⇄ Anthropic), its request is translated and its answer converted back, streams chunk
 * by chunk. Only chat requests translate; a request that cannot be served faithfully skips the
 * target with the translator's reason.
 */
import type { CompiledUpstream } from '../../policy/snapshot.ts';
import type { ClientFormat } from '../client-errors.ts';
import type { ResponseAdapter } from '../forward/response-adapter.ts';
import { endpointOf } from '../request-route.ts';
import { joinPath } from './base-url.ts';
import {
  anthropicErrorToOpenai,
  anthropicMessageToOpenai,
  anthropicMessagesToOpenai,
  anthropicToOpenaiSse,
  openaiChatToAnthropic,
  openaiCompletionToAnthropic,
  openaiErrorToAnthropic,
  openaiToAnthropicSse,
  wantsStreamUsage,
} from './translate/index.ts';

export type CrossFormatPlan =
  | {
      readonly ok: true;
      readonly path: string;
      readonly body: Buffer;
      readonly headers: Record<string, string>;
      readonly adapter: ResponseAdapter;
    }
  | { readonly ok: false; readonly reason: string };

export interface CrossFormatInput {
  readonly json: Record<string, unknown> | undefined;
  readonly clientPath: string;
  readonly clientFormat: ClientFormat;
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
  if (endpointOf(input.clientPath) !== 'chat' || input.json === undefined) {
    return { ok: false, reason: 'only chat requests translate between APIs' };
  }
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'accept-encoding': 'identity',
    ...(input.userAgent === undefined ? {} : { 'user-agent': input.userAgent }),
  };
  if (input.clientFormat === 'openai') {
    const version = input.target.apiVersion ?? '2023-06-01';
    const translated = openaiChatToAnthropic(input.json, input.model, {
      anthropicVersion: version,
    });
    if (!translated.ok) return translated;
    headers['x-api-key'] = input.key;
    headers['anthropic-version'] = version;
    const includeUsage = wantsStreamUsage(input.json);
    return {
      ok: true,
      path: joinPath(input.target.baseURL, '/v1/messages'),
      body: Buffer.from(JSON.stringify(translated.body)),
      headers,
      adapter: {
        body: (status, raw) => {
          const parsed = parse(raw);
          if (status >= 400) return json(anthropicErrorToOpenai(status, parsed).body);
          const answer = anthropicMessageToOpenai(parsed, input.nowSeconds);
          return answer.ok ? json(answer.body) : undefined;
        },
        stream: () => anthropicToOpenaiSse({ includeUsage, created: input.nowSeconds }),
      },
    };
  }
  const translated = anthropicMessagesToOpenai(input.json, input.model);
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
    adapter: {
      body: (status, raw) => {
        const parsed = parse(raw);
        if (status >= 400) return json(openaiErrorToAnthropic(status, parsed).body);
        const answer = openaiCompletionToAnthropic(parsed);
        return answer.ok ? json(answer.body) : undefined;
      },
      stream: () => openaiToAnthropicSse(),
    },
  };
}

function parse(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}
