/**
 * The seam between the dispatcher (queueing, retries, dedup) and one receiver's wire format.
 * A notifier makes one attempt and reports how it went as a value; it never throws, so the
 * dispatcher's bookkeeping has a single path.
 */
import type { AlertEvent } from './alert-event.ts';
import type { AlertTargetKind } from './alert-target.ts';

/** One attempt to deliver one alert to one target. */
export interface AlertDelivery {
  readonly alert: AlertEvent;
  /** Same for every attempt and every target of one alert, so receivers can drop repeats. */
  readonly id: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
}

/**
 * Why an attempt failed, from a fixed vocabulary: never an error message, which for network
 * errors can quote the address and so part of a secret URL.
 */
export type DeliveryError =
  | 'http_status'
  | 'timeout'
  | 'connection_refused'
  | 'connection_reset'
  | 'dns'
  | 'tls'
  | 'network'
  | 'aborted'
  | 'invalid_request';

/** Result of one attempt. */
export type DeliveryOutcome =
  | { readonly ok: true; readonly status: number }
  | {
      readonly ok: false;
      /** 429, 5xx, timeouts and network errors are worth another attempt; other 4xx are not. */
      readonly retryable: boolean;
      readonly error: DeliveryError;
      /** HTTP status when the receiver answered. */
      readonly status?: number;
      /** The receiver's `Retry-After`, in milliseconds. */
      readonly retryAfterMs?: number;
      /** A receiver error token such as Slack's `invalid_payload`, when the body was one. */
      readonly detail?: string;
    };

/** Sends alerts to one receiver. */
export interface AlertNotifier {
  readonly kind: AlertTargetKind;
  /** Makes one attempt; resolves (never rejects) with the outcome. Stops early when `signal` aborts. */
  send(delivery: AlertDelivery, signal: AbortSignal): Promise<DeliveryOutcome>;
}
