import { describe, expect, it } from 'vitest';
import { BreakerEvents } from '../../../src/breaker/breaker-events.ts';

describe('BreakerEvents', () => {
  it('delivers an event published by a listener after the current one reached every listener', () => {
    const events = new BreakerEvents();
    const seen: string[] = [];
    events.on('reset', (e) => {
      seen.push(`first:${e.key}`);
      events.publish('evicted', { key: e.key, reason: 'removed' });
    });
    events.on('reset', (e) => seen.push(`second:${e.key}`));
    events.on('evicted', (e) => seen.push(`evicted:${e.key}`));
    events.publish('reset', { key: 'a', reason: 'reset' });
    expect(seen).toEqual(['first:a', 'second:a', 'evicted:a']);
  });

  it('holds events back between begin() and end(), then delivers them in order', () => {
    const events = new BreakerEvents();
    const seen: string[] = [];
    events.on('reset', (e) => seen.push(e.key));
    events.begin();
    events.publish('reset', { key: '1', reason: 'reset' });
    events.begin();
    events.publish('reset', { key: '2', reason: 'reset' });
    events.end();
    expect(seen).toEqual([]);
    events.end();
    expect(seen).toEqual(['1', '2']);
  });

  it('batch() runs an operation with its receiver and arguments, delivering its events after it returns', () => {
    const events = new BreakerEvents();
    const seen: string[] = [];
    events.on('reset', (e) => seen.push(`event:${e.key}`));
    function op(this: { name: string }, a: string, b: number): string {
      events.publish('reset', { key: a, reason: 'reset' });
      seen.push(`op:${this.name}:${a}:${String(b)}`);
      return `${a}${String(b)}`;
    }
    expect(events.batch({ name: 'owner' }, op, 'k', 7)).toBe('k7');
    expect(seen).toEqual(['op:owner:k:7', 'event:k']);
  });

  it('batch() delivers what the operation published even when it throws, and unwinds', () => {
    const events = new BreakerEvents();
    const seen: string[] = [];
    events.on('reset', (e) => seen.push(e.key));
    const failing = (): never => {
      events.publish('reset', { key: 'before-throw', reason: 'reset' });
      throw new Error('boom');
    };
    expect(() => events.batch(undefined, failing)).toThrow('boom');
    expect(seen).toEqual(['before-throw']);
    // Not left inside an operation: the next event is delivered at once.
    events.publish('reset', { key: 'after', reason: 'reset' });
    expect(seen).toEqual(['before-throw', 'after']);
  });

  it('reports a throwing listener and still reaches the others', () => {
    const errors: unknown[] = [];
    const events = new BreakerEvents((error) => errors.push(error));
    const seen: string[] = [];
    events.on('reset', () => {
      throw new Error('boom');
    });
    events.on('reset', (e) => seen.push(e.key));
    events.publish('reset', { key: 'x', reason: 'release' });
    expect(seen).toEqual(['x']);
    expect(errors).toHaveLength(1);
  });

  it('has() tells whether anyone listens, so payloads are built only then', () => {
    const events = new BreakerEvents();
    expect(events.has('outcome')).toBe(false);
    const off = events.on('outcome', () => undefined);
    expect(events.has('outcome')).toBe(true);
    off();
    expect(events.has('outcome')).toBe(false);
  });
});
