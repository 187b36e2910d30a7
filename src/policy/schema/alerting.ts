/**
 * spec.alerting: which circuit transitions raise an alert, and where it is sent.
 */
import { z } from 'zod';
import { credentialSource, duration } from './fields.ts';
import { ALERT_EVENTS } from './vocabulary.ts';

export const Alerting = z
  .strictObject({
    // Not `on`: YAML 1.1 (what Kubernetes reads) turns a bare `on:` key into `true`
    // (docs/adr/0005-alerting-events-not-on.md).
    events: z
      .array(z.enum(ALERT_EVENTS))
      .max(4)
      .default(['opened', 'closed', 'allTargetsOpen'])
      .meta({
        description:
          'Transitions that raise an alert: opened, halfOpen, closed, allTargetsOpen. (Named events, not on: YAML 1.1 reads a bare on: key as true.)',
      }),
    webhooks: z
      .array(
        z.strictObject({
          url: credentialSource(
            'URL the alert JSON is POSTed to (it may embed a token, so it is a secret).',
          ),
        }),
      )
      .max(8)
      .optional()
      .meta({ description: 'Generic JSON webhooks.' }),
    slack: z
      .strictObject({
        webhookURL: credentialSource('Slack incoming-webhook URL.'),
      })
      .optional()
      .meta({ description: 'A Slack incoming webhook.' }),
    dedupWindow: duration(
      'The same transition of the same circuit alerts at most once per window.',
    ).default('5m'),
  })
  .meta({ description: 'Where and when to send alerts.' });
