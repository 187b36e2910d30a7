/**
 * Slack incoming webhook: a message a person on call can act on at a glance (which circuit, why,
 * when it is probed again, how long the outage lasted), as Block Kit `blocks` with a plain `text`
 * fallback that Slack uses for notifications and clients without blocks.
 */
import type { AlertEvent } from './alert-event.ts';
import type { AlertNotifier, DeliveryOutcome } from './alert-notifier.ts';
import { postJson } from './post-json.ts';
import { deliveryHeaders, type HttpNotifierOptions } from './webhook-notifier.ts';

/** A Slack mrkdwn text object. */
export interface SlackText {
  readonly type: 'mrkdwn';
  readonly text: string;
}

/** The Block Kit blocks we use. */
export type SlackBlock =
  | { readonly type: 'section'; readonly text: SlackText }
  | { readonly type: 'section'; readonly fields: readonly SlackText[] }
  | { readonly type: 'context'; readonly elements: readonly SlackText[] };

/** Body of an incoming-webhook POST. */
export interface SlackMessage {
  /** Plain fallback (notifications, old clients, screen readers). */
  readonly text: string;
  readonly blocks: readonly SlackBlock[];
  readonly unfurl_links: false;
}

// Slack limits a field to 2000 characters; notes and reasons come from users, so bound them.
const MAX_FREE_TEXT = 500;

/** A notifier that posts `slackMessageOf(alert)` to the incoming-webhook `url`. */
export function createSlackNotifier(url: string, options: HttpNotifierOptions): AlertNotifier {
  return {
    kind: 'slack',
    send: async (delivery, signal): Promise<DeliveryOutcome> => {
      let body: string;
      try {
        body = JSON.stringify(slackMessageOf(delivery.alert));
      } catch {
        return { ok: false, retryable: false, error: 'invalid_request' };
      }
      return postJson(url, body, {
        http: options.http,
        signal,
        headers: deliveryHeaders(delivery),
      });
    },
  };
}

/** The Slack message for an alert: headline with an emoji per state, details as fields. */
export function slackMessageOf(alert: AlertEvent): SlackMessage {
  const { emoji, title } = headlineOf(alert);
  const circuit = circuitLabelOf(alert);
  const policy = `${escapeSlack(alert.policy.namespace)}/${escapeSlack(alert.policy.name)}`;
  const summary = summaryOf(alert);
  const retryAt =
    alert.event === 'opened' || alert.event === 'allTargetsOpen' ? alert.retryAt : undefined;
  const probing = retryAt === undefined ? '' : ` Probing again at ${utcTimeOf(retryAt)}`;
  const text = `${emoji} ${title} ${circuit} (policy ${policy}): ${summary}.${probing}`;

  const fields: SlackText[] = [
    mrkdwn(`*Policy*\n${policy}`),
    mrkdwn(`*Transition*\n${escapeSlack(alert.fromState)} → ${escapeSlack(alert.toState)}`),
    mrkdwn(`*Why*\n${summary}`),
  ];
  if (retryAt !== undefined) fields.push(mrkdwn(`*Probing again*\n${slackTimeOf(retryAt)}`));
  if (alert.event === 'closed' && alert.outageDurationMs !== undefined) {
    fields.push(mrkdwn(`*Outage*\n${formatDurationMs(alert.outageDurationMs)}`));
  }
  if (alert.event === 'opened' && alert.openForMs !== undefined) {
    fields.push(mrkdwn(`*Open for*\n${formatDurationMs(alert.openForMs)}`));
  }
  const { sidecars, openSidecars } = alert.counts;
  if (sidecars !== undefined && openSidecars !== undefined) {
    fields.push(mrkdwn(`*Sidecars open*\n${openSidecars}/${sidecars}`));
  }
  const source = `${alert.source.kind} ${escapeSlack(alert.source.id)} · ${escapeSlack(alert.at)}`;
  return {
    text,
    blocks: [
      { type: 'section', text: mrkdwn(`${emoji} *${title}* \`${circuit}\``) },
      { type: 'section', fields },
      { type: 'context', elements: [mrkdwn(source)] },
    ],
    unfurl_links: false,
  };
}

function headlineOf(alert: AlertEvent): { emoji: string; title: string } {
  switch (alert.event) {
    case 'opened':
      return alert.toState === 'forced_open'
        ? { emoji: ':no_entry:', title: 'Circuit FORCED OPEN' }
        : { emoji: ':red_circle:', title: 'Circuit OPEN' };
    case 'halfOpen':
      return { emoji: ':large_yellow_circle:', title: 'Circuit HALF-OPEN' };
    case 'closed':
      return { emoji: ':large_green_circle:', title: 'Circuit CLOSED' };
    case 'allTargetsOpen':
      return { emoji: ':rotating_light:', title: 'ALL TARGETS OPEN for' };
  }
}

/** `openai/chat`, `openai` when the circuit covers every endpoint, `openai/chat:gpt-4o` per model. */
function circuitLabelOf(alert: AlertEvent): string {
  const endpoint = alert.endpoint === 'all' ? '' : `/${alert.endpoint}`;
  const model = alert.model === undefined ? '' : `:${alert.model}`;
  return escapeSlack(`${alert.upstream}${endpoint}${model}`);
}

/** One sentence (without the final period) saying why, in the words an operator uses. */
function summaryOf(alert: AlertEvent): string {
  switch (alert.event) {
    case 'opened':
      return openReasonOf(alert) + fleetSuffixOf(alert);
    case 'halfOpen':
      return alert.openForMs === undefined
        ? 'probing recovery'
        : `probing recovery after ${formatDurationMs(alert.openForMs)} open`;
    case 'closed':
      return (
        (alert.outageDurationMs === undefined
          ? 'recovered'
          : `recovered after ${formatDurationMs(alert.outageDurationMs)}`) + closeReasonOf(alert)
      );
    case 'allTargetsOpen':
      return `every target in the fallback chain is open, requests fail fast with 503${fleetSuffixOf(alert)}`;
  }
}

function openReasonOf(alert: AlertEvent): string {
  const { consecutiveFailures, windowFailures, windowCalls, openings } = alert.counts;
  let text: string;
  switch (alert.reason) {
    case 'consecutive_failures':
      text =
        consecutiveFailures === undefined
          ? 'consecutive failures'
          : `${consecutiveFailures} consecutive failure${consecutiveFailures === 1 ? '' : 's'}`;
      break;
    case 'failure_rate':
      text =
        windowFailures === undefined || windowCalls === undefined || windowCalls === 0
          ? 'failure rate over the threshold'
          : `failure rate ${Math.round((100 * windowFailures) / windowCalls)}% (${windowFailures}/${windowCalls} calls)`;
      break;
    case 'slow_call_rate':
      text = 'slow-call rate over the threshold';
      break;
    case 'probe_failure':
      text = 'the recovery probe failed';
      break;
    case 'probe_timeout':
      text = 'the recovery probe timed out';
      break;
    case 'half_open_deadline':
      text = 'no recovery within the half-open period';
      break;
    case 'force_open':
    case 'manual':
      text = 'forced open by an operator';
      break;
    default:
      text = escapeSlack(alert.reason.replaceAll('_', ' '));
  }
  if (alert.lastFailure !== undefined) text += ` (${escapeSlack(alert.lastFailure)})`;
  if (alert.note !== undefined) text += `: ${escapeSlack(truncate(alert.note))}`;
  if (openings !== undefined && openings > 1) text += `, opening ${openings} in a row`;
  return text;
}

function closeReasonOf(alert: AlertEvent): string {
  switch (alert.reason) {
    case 'force_closed':
    case 'release':
    case 'reset':
    case 'manual':
      return alert.note === undefined
        ? ' (by an operator)'
        : ` (by an operator: ${escapeSlack(truncate(alert.note))})`;
    case 'force_expired':
      return ' (operator override expired)';
    default:
      return '';
  }
}

function fleetSuffixOf(alert: AlertEvent): string {
  const { sidecars, openSidecars } = alert.counts;
  return sidecars === undefined || openSidecars === undefined
    ? ''
    : ` — open in ${openSidecars} of ${sidecars} sidecars`;
}

/**
 * Human duration: `850ms`, `45s`, `2m13s`, `1h05m`, `2d03h`. Two units at most: an on-call
 * reader wants the order of magnitude, not the milliseconds.
 */
export function formatDurationMs(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '0s';
  if (Math.round(ms) < 1000) return `${Math.round(ms)}ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${pad2(seconds % 60)}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h${pad2(minutes % 60)}m`;
  return `${Math.floor(hours / 24)}d${pad2(hours % 24)}h`;
}

/** `HH:MM:SS UTC` of an ISO time; the raw (escaped) text if it does not parse. */
function utcTimeOf(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime())
    ? escapeSlack(iso)
    : `${date.toISOString().slice(11, 19)} UTC`;
}

/** Slack date token: shown in each reader's time zone, UTC text as the fallback. */
function slackTimeOf(iso: string): string {
  const epochMs = new Date(iso).getTime();
  return Number.isNaN(epochMs)
    ? escapeSlack(iso)
    : `<!date^${Math.floor(epochMs / 1000)}^{time_secs}|${utcTimeOf(iso)}>`;
}

function mrkdwn(text: string): SlackText {
  return { type: 'mrkdwn', text };
}

function pad2(value: number): string {
  return String(value).padStart(2, '0');
}

function truncate(text: string): string {
  return text.length <= MAX_FREE_TEXT ? text : `${text.slice(0, MAX_FREE_TEXT - 1)}…`;
}

/** Slack's three control characters; anything user-provided could otherwise form a link or mention. */
export function escapeSlack(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
