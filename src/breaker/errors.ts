import { CodedError } from '../shared/coded-error.ts';

/** A manual state change the breaker refuses (e.g. CLOSED -> HALF_OPEN by hand); the state is unchanged. */
export class IllegalTransitionError extends CodedError {
  /** State the breaker was in when the request was refused. */
  readonly from: string;
  /** State the caller asked for. */
  readonly to: string;

  constructor(key: string, from: string, to: string) {
    super(
      'AICB_ILLEGAL_TRANSITION',
      `breaker "${key}" cannot move from ${from} to ${to} by a manual request`,
    );
    this.from = from;
    this.to = to;
  }
}

/** A breaker or registry option outside its allowed range; the message quotes the bad value. */
export class BreakerConfigError extends CodedError {
  constructor(message: string) {
    super('AICB_INVALID_BREAKER_CONFIG', message);
  }
}

/** A persisted breaker snapshot that cannot be restored (wrong version, bad field). */
export class BreakerSnapshotError extends CodedError {
  constructor(message: string) {
    super('AICB_INVALID_BREAKER_SNAPSHOT', message);
  }
}
