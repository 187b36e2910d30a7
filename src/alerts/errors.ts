import { CodedError } from '../shared/coded-error.ts';

/** An alert dispatcher option outside its allowed range; the message quotes the bad value (never a URL). */
export class AlertConfigError extends CodedError {
  constructor(message: string) {
    super('AICB_INVALID_ALERT_CONFIG', message);
  }
}
