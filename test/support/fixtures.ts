// Loads the CRD example fixtures and their annotations (`# expect-error:` for offline
// validation, `# expect-server:` for the Kubernetes API server).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const EXAMPLES_DIR = join(REPO_ROOT, 'crds', 'examples');

export interface Fixture {
  readonly file: string;
  readonly path: string;
  readonly text: string;
  readonly valid: boolean;
  readonly expectError: string | undefined;
  readonly expectServer: string | undefined;
}

export function loadFixtures(): Fixture[] {
  return readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((file) => {
      const path = join(EXAMPLES_DIR, file);
      const text = readFileSync(path, 'utf8');
      return {
        file,
        path,
        text,
        valid: file.startsWith('valid-'),
        expectError: annotation(text, 'expect-error'),
        expectServer: annotation(text, 'expect-server'),
      };
    });
}

function annotation(text: string, name: string): string | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`# ${name}: `));
  return line?.slice(`# ${name}: `.length);
}
