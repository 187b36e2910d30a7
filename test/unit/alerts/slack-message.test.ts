// What an on-call reader sees in Slack for each transition.
import { describe, expect, it } from 'vitest';
import {
  escapeSlack,
  formatDurationMs,
  slackMessageOf,
} from '../../../src/alerts/slack-notifier.ts';
import { anAlert, without } from './alert-test-kit.ts';

describe('slackMessageOf', () => {
  it('says which circuit opened, why, and when it is probed again', () => {
    const message = slackMessageOf(anAlert());
    expect(message.text).toBe(
      ':red_circle: Circuit OPEN openai/chat (policy shop/chat-egress): 5 consecutive failures (server_error). Probing again at 12:00:30 UTC',
    );
    expect(message.blocks).toEqual([
      {
        type: 'section',
        text: { type: 'mrkdwn', text: ':red_circle: *Circuit OPEN* `openai/chat`' },
      },
      {
        type: 'section',
        fields: [
          { type: 'mrkdwn', text: '*Policy*\nshop/chat-egress' },
          { type: 'mrkdwn', text: '*Transition*\nclosed → open' },
          { type: 'mrkdwn', text: '*Why*\n5 consecutive failures (server_error)' },
          {
            type: 'mrkdwn',
            text: `*Probing again*\n<!date^${Date.UTC(2026, 0, 1, 12, 0, 30) / 1000}^{time_secs}|12:00:30 UTC>`,
          },
          { type: 'mrkdwn', text: '*Open for*\n30s' },
        ],
      },
      {
        type: 'context',
        elements: [{ type: 'mrkdwn', text: 'sidecar chat-7d9f-abcde · 2026-01-01T12:00:00.000Z' }],
      },
    ]);
  });

  it('reports recovery with the outage duration', () => {
    const message = slackMessageOf(
      anAlert({
        event: 'closed',
        fromState: 'half_open',
        toState: 'closed',
        reason: 'probe_success',
        outageDurationMs: 133_000,
      }),
    );
    expect(message.text).toBe(
      ':large_green_circle: Circuit CLOSED openai/chat (policy shop/chat-egress): recovered after 2m13s.',
    );
    expect(JSON.stringify(message.blocks)).toContain('*Outage*\\n2m13s');
    expect(JSON.stringify(message.blocks)).not.toContain('Probing again');
  });

  it('has an emoji and a sentence for every event', () => {
    expect(
      slackMessageOf(anAlert({ event: 'halfOpen', fromState: 'open', toState: 'half_open' })).text,
    ).toBe(
      ':large_yellow_circle: Circuit HALF-OPEN openai/chat (policy shop/chat-egress): probing recovery after 30s open.',
    );
    expect(
      slackMessageOf(
        anAlert({
          event: 'allTargetsOpen',
          endpoint: 'all',
          counts: { sidecars: 10, openSidecars: 3 },
          source: { kind: 'controller', id: 'aicb-controller-0' },
        }),
      ).text,
    ).toBe(
      ':rotating_light: ALL TARGETS OPEN for openai (policy shop/chat-egress): every target in the fallback chain is open, requests fail fast with 503 — open in 3 of 10 sidecars. Probing again at 12:00:30 UTC',
    );
    expect(
      slackMessageOf(
        without(
          anAlert({
            toState: 'forced_open',
            reason: 'force_open',
            note: 'provider maintenance',
            model: 'gpt-4o',
            retryAt: 'soon',
          }),
          'lastFailure',
        ),
      ).text,
    ).toMatch(
      /^:no_entry: Circuit FORCED OPEN openai\/chat:gpt-4o .*forced open by an operator: provider maintenance\. Probing again at soon$/,
    );
  });

  it('describes a failure-rate trip with its numbers and a flapping circuit with its streak', () => {
    const text = slackMessageOf(
      anAlert({
        reason: 'failure_rate',
        lastFailure: 'overloaded',
        counts: { windowFailures: 6, windowCalls: 10, openings: 3 },
      }),
    ).text;
    expect(text).toContain('failure rate 60% (6/10 calls) (overloaded), opening 3 in a row.');
  });

  it('escapes user text so a name or note cannot form a link or a mention', () => {
    const text = slackMessageOf(
      anAlert({ upstream: '<!channel>', note: 'a & b <https://x>', reason: 'manual' }),
    ).text;
    expect(text).toContain('&lt;!channel&gt;/chat');
    expect(text).toContain('a &amp; b &lt;https://x&gt;');
    expect(escapeSlack('<&>')).toBe('&lt;&amp;&gt;');
  });
});

describe('formatDurationMs', () => {
  it.each([
    [0, '0s'],
    [850, '850ms'],
    [999.6, '1s'],
    [45_000, '45s'],
    [133_000, '2m13s'],
    [125_000, '2m05s'],
    [3_900_000, '1h05m'],
    [183_600_000, '2d03h'],
    [Number.NaN, '0s'],
  ])('%s ms reads %s', (ms, text) => {
    expect(formatDurationMs(ms)).toBe(text);
  });
});
