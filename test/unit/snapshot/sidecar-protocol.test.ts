// The controller writes its stream with the protocol's encoder and the sidecar reads it with its
// SSE parser and the protocol's schemas: both sides meet on the same event names and messages.
import { describe, expect, it } from 'vitest';
import { SseParser } from '../../../src/dataplane/sse/sse-reader.ts';
import {
  FleetMessageSchema,
  ReleaseMessageSchema,
  STREAM_EVENTS,
  STREAM_HEARTBEAT,
  encodeStreamEvent,
} from '../../../src/snapshot/sidecar-protocol.ts';

describe('controller -> sidecar stream', () => {
  it('carries each event under its name with a message the schema accepts; heartbeats are silent', () => {
    const fleet = { key: 'openai/chat', openForMs: 30_000, origin: 'shop/api-1', policyHash: 'h' };
    const release = { formerPolicy: { namespace: 'shop', name: 'egress' } };
    const parser = new SseParser();
    const events = parser.push(
      encodeStreamEvent(STREAM_EVENTS.fleet, fleet) +
        STREAM_HEARTBEAT +
        encodeStreamEvent(STREAM_EVENTS.release, release),
    );
    expect(events.map((e) => e.event)).toEqual(['fleet', 'release']);
    expect(FleetMessageSchema.parse(JSON.parse(events[0]?.data ?? ''))).toEqual(fleet);
    expect(ReleaseMessageSchema.parse(JSON.parse(events[1]?.data ?? ''))).toEqual(release);
  });
});
