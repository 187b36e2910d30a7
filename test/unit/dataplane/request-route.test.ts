import { describe, expect, it } from 'vitest';
import {
  azureDeploymentOf,
  endpointOf,
  routeRequest,
} from '../../../src/dataplane/request-route.ts';

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
    expect(routeRequest(url, upstreams, 'openai')).toEqual({ upstream, path, endpoint });
  });

  it('refuses paths that name no upstream and are not API paths', () => {
    expect(routeRequest('/gemini/v1/chat/completions', upstreams, 'openai')).toBeUndefined();
    expect(routeRequest('/', upstreams, 'openai')).toBeUndefined();
  });

  it('keeps a bare upstream prefix as path /', () => {
    expect(routeRequest('/openai', upstreams, 'openai')).toEqual({
      upstream: 'openai',
      path: '/',
      endpoint: 'other',
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
