// A policy at the size a shared gateway-style deployment reaches (issue 11: at least 128
// upstreams with chains), built so every cross-list rule does its most work: names at the
// 63-character maximum (CEL string comparisons cost by length), a full-length chain on every
// upstream, a model map on each target, the most overrides, and defaultUpstream naming the last
// upstream (a linear search finds it last).
import { stringify } from 'yaml';
import { MAX_FALLBACK_TARGETS } from '../../src/policy/policy-schema.ts';

const PROVIDERS = ['openai', 'anthropic', 'azure-openai', 'openai-compatible'] as const;
const MAX_OVERRIDES = 64;

/** `u007-xxxx…`: unique, a DNS label, exactly 63 characters. */
export function largeUpstreamName(i: number): string {
  const head = `u${String(i).padStart(3, '0')}-`;
  return head + 'x'.repeat(63 - head.length);
}

export function largePolicy(upstreamCount: number, name = 'large'): Record<string, unknown> {
  const names = Array.from({ length: upstreamCount }, (_, i) => largeUpstreamName(i));
  const chainLength = Math.min(MAX_FALLBACK_TARGETS, upstreamCount - 1);
  return {
    apiVersion: 'aicircuit.io/v1alpha1',
    kind: 'AICircuitPolicy',
    metadata: { name },
    spec: {
      defaultUpstream: names.at(-1),
      upstreams: names.map((n, i) => ({
        name: n,
        provider: PROVIDERS[i % PROVIDERS.length],
        baseURL: `https://provider-${i}.example.com/v1`,
        ...(i % 2 === 1 ? { apiKey: { env: `KEY_${i}` } } : {}),
        maxConnections: 1 + i,
      })),
      fallbacks: names.map((from, i) => ({
        from,
        // The next upstreams in a ring, so every chain is full length and never names `from`.
        to: Array.from({ length: chainLength }, (_, j) => ({
          upstream: names[(i + 1 + j) % upstreamCount],
          modelMap: { 'gpt-4o': `model-${j}`, '*': 'fallback-model' },
        })),
      })),
      overrides: names.slice(0, MAX_OVERRIDES).map((upstream) => ({
        upstream,
        state: 'forcedClosed',
        reason: 'size test',
      })),
    },
  };
}

export function largePolicyYaml(upstreamCount: number, name?: string): string {
  return stringify(largePolicy(upstreamCount, name));
}
