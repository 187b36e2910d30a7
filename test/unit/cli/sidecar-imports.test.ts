import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The sidecar runs in every pod, so what it loads is resident memory paid N times. Loading
// @kubernetes/client-node alone adds about 100 MB RSS (bench/RESULTS.md, 22:22 run vs. the
// runs before it). This follows the runtime import graph from the `aicb sidecar` entry points
// and fails if the Kubernetes client (or the control plane) becomes reachable from them.

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../../src');

/**
 * Runtime import specifiers of a module: static imports and re-exports, minus `import type`,
 * and with `dynamic`, also `await import('...')` of a literal path (loaded only when reached).
 */
function runtimeImports(file: string, dynamic = true): string[] {
  const text = readFileSync(file, 'utf8');
  const specs: string[] = [];
  const statement =
    /^\s*(import|export)\s+(type\s+)?[^;]*?\s+from\s+'([^']+)'|^\s*import\s+'([^']+)'/gms;
  for (const m of text.matchAll(statement)) {
    if (m[2] !== undefined) continue; // import type / export type: erased at build time
    const spec = m[3] ?? m[4];
    if (spec !== undefined) specs.push(spec);
  }
  if (dynamic) for (const m of text.matchAll(/\bimport\('([^']+)'\)/g)) specs.push(m[1] ?? '');
  return specs;
}

function reachable(entry: string, dynamic = true): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [entry];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    for (const spec of runtimeImports(file, dynamic)) {
      if (spec.startsWith('.')) queue.push(resolve(dirname(file), spec));
      else if (!spec.startsWith('node:')) packages.add(spec);
    }
  }
  return { files, packages };
}

describe('what the sidecar loads', () => {
  const graph = reachable(resolve(SRC, 'cli/sidecar-command.ts'));

  it('follows a real graph (the proxy, the breaker and their libraries are in it)', () => {
    expect(graph.files.size).toBeGreaterThan(30);
    expect([...graph.files].some((f) => f.includes('/breaker/'))).toBe(true);
    expect(graph.packages).toContain('prom-client');
    expect(graph.packages).toContain('undici');
  });

  it('serves with Node http alone: no web framework in the sidecar (its memory is paid in every pod)', () => {
    expect(graph.packages).not.toContain('fastify');
  });

  it('never reaches the Kubernetes client or the control plane', () => {
    expect([...graph.packages].filter((p) => p.startsWith('@kubernetes/'))).toEqual([]);
    expect([...graph.files].filter((f) => f.includes('/controlplane/'))).toEqual([]);
  });

  it('each mode loads only its own policy source: the file watcher or the controller client', () => {
    const loadedAtStart = reachable(resolve(SRC, 'cli/sidecar-command.ts'), false).files;
    const file = resolve(SRC, 'dataplane/config/standalone-policy.ts');
    const client = resolve(SRC, 'dataplane/controller-client.ts');
    // Both are reachable, through the import() of their mode...
    expect(graph.files).toContain(file);
    expect(graph.files).toContain(client);
    // ...and neither is loaded before the mode is known.
    expect(loadedAtStart).not.toContain(file);
    expect(loadedAtStart).not.toContain(client);
  });

  it('the aicb entry point imports subcommands only when chosen', () => {
    const main = runtimeImports(resolve(SRC, 'cli/main.ts'), false);
    expect(main.filter((s) => s.endsWith('-command.ts'))).toEqual([]);
  });
});
