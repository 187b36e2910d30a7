import { describe, expect, it } from 'vitest';
import {
  RECONNECT_MAX_BACKOFF_MS,
  reconnectDelayMs,
} from '../../../src/dataplane/controller-client.ts';

describe('sidecar reconnect backoff', () => {
  it('never waits 2 s or more, however long the controller was away', () => {
    for (const failures of [1, 2, 5, 10, 100, 10_000]) {
      for (const draw of [0, 0.5, 0.999_999, 1]) {
        expect(reconnectDelayMs(failures, () => draw)).toBeLessThan(RECONNECT_MAX_BACKOFF_MS);
      }
    }
    expect(reconnectDelayMs(10_000, () => 0.999_999)).toBeGreaterThan(1_990);
  });

  it('starts low and grows, so a short blip costs little and a fleet spreads out', () => {
    expect(reconnectDelayMs(1, () => 0.999_999)).toBeLessThan(1_000);
    expect(reconnectDelayMs(2, () => 0.999_999)).toBeGreaterThan(1_000);
    expect(reconnectDelayMs(1, () => 0)).toBe(0);
  });
});
