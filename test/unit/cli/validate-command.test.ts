import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CommandIo } from '../../../src/cli/command-io.ts';
import { runCrd } from '../../../src/cli/crd-command.ts';
import { runValidate } from '../../../src/cli/validate-command.ts';
import { EXAMPLES_DIR, REPO_ROOT } from '../../support/fixtures.ts';
import { largePolicyYaml } from '../../support/large-policy.ts';

function recordingIo(): CommandIo & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    out(text: string) {
      io.stdout += text;
    },
    err(text: string) {
      io.stderr += text;
    },
    readFile: (path: string) => readFileSync(path, 'utf8'),
  };
  return io;
}

describe('aicb validate', () => {
  it('exits 0 and says valid for a valid file', () => {
    const io = recordingIo();
    expect(runValidate(['-f', join(EXAMPLES_DIR, 'valid-full.yaml')], io)).toBe(0);
    expect(io.stdout).toContain('(shop/chat-egress): valid');
  });

  it('exits 1 and prints each problem with its path', () => {
    const io = recordingIo();
    expect(runValidate(['-f', join(EXAMPLES_DIR, 'invalid-fallback-loop.yaml')], io)).toBe(1);
    expect(io.stdout).toContain('1 problem');
    expect(io.stdout).toContain(
      '  spec.fallbacks[0].to[1].upstream: a fallback chain must not lead back to its own upstream',
    );
  });

  it('checks several files and fails if any document fails', () => {
    const io = recordingIo();
    const code = runValidate(
      [
        '-f',
        join(EXAMPLES_DIR, 'valid-minimal.yaml'),
        '-f',
        join(EXAMPLES_DIR, 'invalid-provider.yaml'),
      ],
      io,
    );
    expect(code).toBe(1);
    expect(io.stdout).toMatch(/valid-minimal\.yaml \(minimal\): valid/);
    expect(io.stdout).toMatch(/invalid-provider\.yaml \(bad\): 1 problem/);
  });

  it.each([128, 256])(
    'accepts a policy of %i upstreams, each with a full fallback chain',
    (upstreams) => {
      const dir = mkdtempSync(join(tmpdir(), 'aicb-validate-'));
      try {
        const file = join(dir, 'large.yaml');
        writeFileSync(file, largePolicyYaml(upstreams));
        const io = recordingIo();
        expect(runValidate(['-f', file], io), io.stdout).toBe(0);
        expect(io.stdout).toContain('(large): valid');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('rejects one upstream more than the cap', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aicb-validate-'));
    try {
      const file = join(dir, 'too-large.yaml');
      writeFileSync(file, largePolicyYaml(257));
      const io = recordingIo();
      expect(runValidate(['-f', file], io)).toBe(1);
      expect(io.stdout).toContain('spec.upstreams: must have at most 256 items');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 with a clear message for a missing file or no file', () => {
    const io = recordingIo();
    expect(runValidate(['-f', '/nonexistent/policy.yaml'], io)).toBe(2);
    expect(io.stderr).toContain('cannot read /nonexistent/policy.yaml: ENOENT');
    const io2 = recordingIo();
    expect(runValidate([], io2)).toBe(2);
    expect(io2.stderr).toContain('-f FILE');
  });
});

describe('aicb crd', () => {
  it('prints exactly the checked-in CRD', () => {
    const io = recordingIo();
    expect(runCrd([], io)).toBe(0);
    expect(io.stdout).toBe(
      readFileSync(join(REPO_ROOT, 'crds/aicircuitpolicies.aicircuit.io.yaml'), 'utf8'),
    );
  });
});

describe('aicb validate warnings', () => {
  it('prints what a valid policy will not do as written, and still exits 0', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aicb-validate-'));
    const file = join(dir, 'policy.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: aicircuit.io/v1alpha1',
        'kind: AICircuitPolicy',
        'metadata: { name: chat-egress, namespace: shop }',
        'spec:',
        '  upstreams: [{ name: openai, provider: openai, baseURL: https://api.openai.com }]',
        '  overrides:',
        "    - { upstream: openai, state: forcedOpen, until: '2026-12-01T12:00:00Z' }",
        '',
      ].join('\n'),
    );
    const io = recordingIo();
    expect(runValidate(['-f', file], io, Date.parse('2026-12-02T00:00:00Z'))).toBe(0);
    expect(io.stdout).toBe(
      `${file} (shop/chat-egress): valid, 1 warning\n` +
        '  warning: spec.overrides[0].until: 2026-12-01T12:00:00.000Z has passed, so this ' +
        'forcedOpen override of openai does nothing; remove it or set a time in the future ' +
        '(docs/runbook.md computes one)\n',
    );
    rmSync(dir, { recursive: true, force: true });
  });
});
