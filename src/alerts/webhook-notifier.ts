/**
 * Generic JSON webhook: the body is exactly the alert as JSON, so any receiver (PagerDuty
 * bridge, Opsgenie, a custom service) can parse it with the documented AlertEvent shape.
 */
import type { Dispatcher } from 'undici';
import type { AlertDelivery, AlertNotifier, DeliveryOutcome } from './alert-notifier.ts';
import { postJson } from './post-json.ts';

/** What an HTTP notifier needs. */
export interface HttpNotifierOptions {
  /** undici dispatcher that owns the connections (the alert dispatcher passes its Agent). */
  readonly http: Dispatcher;
}

/** Headers that let a receiver drop repeats (retries after a lost answer) and see the attempt. */
export function deliveryHeaders(delivery: AlertDelivery): Record<string, string> {
  return {
    'x-aicb-alert-id': delivery.id,
    'x-aicb-alert-attempt': String(delivery.attempt),
  };
}

/** A notifier that POSTs `JSON.stringify(alert)` to `url` (kept in this closure only). */
export function createWebhookNotifier(url: string, options: HttpNotifierOptions): AlertNotifier {
  return {
    kind: 'webhook',
    send: async (delivery, signal): Promise<DeliveryOutcome> => {
      let body: string;
      try {
        body = JSON.stringify(delivery.alert);
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
