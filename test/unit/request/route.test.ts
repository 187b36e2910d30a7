import { describe, expect, it } from 'vitest';
import {
  azureDeploymentOf,
  endpointOf,
  routeRequest,
} from '../../../src/dataplane/request/route.ts';

const upstreams = new Set(['openai', 'anthropic', 'azure']);

describe('routeRequest', () => {
  it.each([
    ['/openai/v1/chat/completions', 'openai', '/v1/chat/completions', 'chat'],
    ['/anthropic/v1/messages', 'anthropic', '/v1/messages', 'chat'],
    ['/openai/v1/embeddings?x=1', 'openai', '/v1/embeddings?x=1', 'embeddings'],
    [
      '/azure/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21',
      'azure',
      '/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21',
      'chat',
    ],
    ['/v1/chat/completions', 'openai', '/v1/chat/completions', 'chat'],
    ['/v1/images/generations', 'openai', '/v1/images/generations', 'images'],
    ['/openai/v1/audio/transcriptions', 'openai', '/v1/audio/transcriptions', 'audio'],
    ['/openai/v1/responses', 'openai', '/v1/responses', 'responses'],
    ['/openai/v1/models', 'openai', '/v1/models', 'other'],
  ])('%s → %s %s (%s)', (url, upstream, path, endpoint) => {
    expect(routeRequest(url, upstreams, 'openai')).toEqual({
      kind: 'route',
      route: { upstream, path, endpoint },
    });
  });

  it.each([
    '/gemini/v1/chat/completions',
    '/',
    // Only an unprefixed /v1 means the default upstream; /openai/... needs an upstream of that name.
    '/openai/deployments/gpt4o/chat/completions',
  ])('refuses %s, which names no upstream', (url) => {
    expect(routeRequest(url, new Set(['anthropic', 'azure']), 'anthropic')).toEqual({
      kind: 'unknown_upstream',
    });
  });

  it.each([
    ['/openai/v1/../../admin', 'dot segments'],
    ['/openai/v1/%2e%2E/admin', 'dot segments'],
    ['/openai/v1/./chat/completions', 'dot segments'],
    ['/openai/v1%2fchat/completions', 'encoded slashes'],
    ['/openai/v1%5Cchat', 'encoded slashes'],
    ['/openai/v1\\chat', 'backslashes'],
    ['/openai/v1/chat%00', 'NUL'],
    ['http://evil.example/v1/chat/completions', 'absolute path'],
  ])('refuses %s (%s) before any routing', (url, why) => {
    const result = routeRequest(url, upstreams, 'openai');
    expect(result.kind).toBe('invalid_path');
    expect(result.kind === 'invalid_path' ? result.reason : '').toContain(why);
  });

  it('keeps a bare upstream prefix as path /', () => {
    expect(routeRequest('/openai', upstreams, 'openai')).toEqual({
      kind: 'route',
      route: { upstream: 'openai', path: '/', endpoint: 'other' },
    });
  });
});

describe('endpointOf / azureDeploymentOf', () => {
  it('classifies completions and messages as chat', () => {
    expect(endpointOf('/v1/completions')).toBe('chat');
    expect(endpointOf('/v1/messages?beta=true')).toBe('chat');
  });

  it('reads the Azure deployment name', () => {
    expect(azureDeploymentOf('/openai/deployments/my%20dep/embeddings')).toBe('my dep');
    expect(azureDeploymentOf('/v1/chat/completions')).toBeUndefined();
  });
});
