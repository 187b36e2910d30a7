/**
 * spec.upstreams[]: the AI providers the sidecar forwards to, with their timeouts and
 * connection limit.
 */
import { z } from 'zod';
import { withRules } from '../cel-rule.ts';
import { DURATION_PATTERN, parseDurationMs } from '../duration.ts';
import { credentialSource, duration, upstreamName } from './fields.ts';
import { DEFAULT_MAX_CONNECTIONS, PROVIDERS } from './vocabulary.ts';

const Timeouts = withRules(
  z.strictObject({
    connect: duration('Time allowed to open a connection to the provider.').default('5s'),
    firstByte: duration(
      'Time allowed between sending the request and the first response byte (headers).',
    ).default('60s'),
    idle: duration('Longest silence allowed between two chunks of a streamed response.').default(
      '30s',
    ),
    total: duration(
      'Longest a whole call may take, streaming included; at least firstByte.',
    ).default('600s'),
  }),
  [
    {
      // A total shorter than firstByte makes firstByte dead: the call is cut before headers can
      // be waited for, and the failure is reported as the wrong timeout. Both are defaulted, so
      // raising firstByte alone past the default total is caught too. Guarded by the pattern so
      // a malformed duration reports only its own error.
      rule:
        // has(): the CRD's default for timeouts is {}, which the API server checks as it is.
        '!has(self.total) || !has(self.firstByte) || ' +
        `!self.total.matches('${DURATION_PATTERN}') || !self.firstByte.matches('${DURATION_PATTERN}') || ` +
        'duration(self.total) >= duration(self.firstByte)',
      message: 'timeouts.total must be at least timeouts.firstByte',
      messageExpression:
        "'timeouts.total must be at least timeouts.firstByte (' + self.total + ' < ' + self.firstByte + ')'",
      fieldPath: '.total',
      reads: [['total'], ['firstByte']],
      check: (v) => {
        const total = parseDurationMs(v.total);
        const firstByte = parseDurationMs(v.firstByte);
        return total !== undefined && firstByte !== undefined && total < firstByte
          ? [{ path: ['total'], detail: `${v.total} < ${v.firstByte}` }]
          : [];
      },
    },
  ],
).meta({ description: 'Timeouts for calls to this upstream; a timeout counts as a failure.' });

export const Upstream = z
  .strictObject({
    name: upstreamName(
      'Name of the upstream; apps select it with the path prefix /{name}/ on the sidecar.',
    ),
    provider: z.enum(PROVIDERS).meta({
      description: 'API the upstream speaks: openai, azure-openai, anthropic or openai-compatible.',
    }),
    baseURL: z
      .string()
      .max(2048)
      .regex(/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, {
        error: 'must be an http:// or https:// URL without query or fragment',
      })
      .meta({ description: 'Base URL of the provider API, e.g. https://api.openai.com.' }),
    apiKey: credentialSource(
      "Credentials used when this upstream serves another upstream's request as a fallback. " +
        "Requests addressed to this upstream keep the app's own credentials.",
    ).optional(),
    apiVersion: z
      .string()
      .max(64)
      .optional()
      .meta({
        description:
          'Provider API version: the api-version query parameter for azure-openai ' +
          '(default 2024-10-21), the anthropic-version header for anthropic (default 2023-06-01).',
      }),
    timeouts: Timeouts.prefault({}),
    maxConnections: z
      .int()
      .min(1)
      .max(65536)
      .default(DEFAULT_MAX_CONNECTIONS)
      .meta({
        description:
          'Most connections the sidecar holds open to this upstream at once. A streamed answer ' +
          'holds its connection until it ends. A request that would need one more is answered ' +
          'at once with 503 AICB_CONNECTION_LIMIT, never queued.',
      }),
  })
  .meta({ description: 'An AI provider endpoint the sidecar forwards to.' });
