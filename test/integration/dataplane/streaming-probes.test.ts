// A half-open probe has succeeded once the upstream shows it is healthy (its first content);
// a long healthy stream then runs to its end without timing the probe out and re-opening the
// circuit. The breaker runs on a manual clock, so "a stream longer than probeTimeout" is exact.
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeProvider, type FakeProvider } from '../../support/fake-provider.ts';
import { startSidecar, type RunningSidecar } from '../../support/sidecar-harness.ts';

let oa: FakeProvider;
let sc: RunningSidecar;

beforeEach(async () => {
  oa = await startFakeProvider({ api: 'openai', words: 6 });
  sc = await startSidecar({
    upstreams: [{ name: 'openai', provider: 'openai', baseURL: oa.url }],
    breaker: {
      failureThreshold: 2,
      recoveryTimeout: '1s',
      successThreshold: 1,
      probeTimeout: '3s',
    },
  });
});

afterEach(async () => {
  await sc.close();
  await oa.close();
});

const body = JSON.stringify({ model: 'gpt-4o', stream: true, messages: [] });

async function state(): Promise<string | undefined> {
  return (await sc.health()).providers.openai;
}

describe('streaming probes', () => {
  it('closes the circuit at the first content of a probe stream longer than probeTimeout', async () => {
    oa.queue({ type: 'status', status: 500 }, { type: 'status', status: 500 });
    for (let i = 0; i < 2; i++) {
      const res = await request(`${sc.url}/openai/v1/chat/completions`, { method: 'POST', body });
      await res.body.dump();
    }
    expect(await state()).toBe('open');
    sc.clock.advance(1500);
    oa.setDefault({ type: 'stream-slow', chunkDelayMs: 150, chunks: 6 });
    const res = await request(`${sc.url}/openai/v1/chat/completions`, { method: 'POST', body });
    expect(res.statusCode).toBe(200);
    const chunks: string[] = [];
    let advanced = false;
    for await (const chunk of res.body) {
      chunks.push(String(chunk));
      if (!advanced && chunks.join('').includes('"content":"The')) {
        // The stream has shown content; its probe lease would now have long expired.
        advanced = true;
        sc.clock.advance(10_000);
        expect(await state()).toBe('closed');
      }
    }
    const text = chunks.join('');
    expect(advanced).toBe(true);
    expect(text).toContain('data: [DONE]');
    expect(text).not.toContain('AICB_STREAM_INTERRUPTED');
    expect(await state()).toBe('closed');
  });
});
