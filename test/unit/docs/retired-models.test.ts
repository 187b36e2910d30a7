/**
 * Nothing the project ships names a model its provider has retired or scheduled for
 * retirement. Examples, the default policy, docs and tests are what users copy; a retired model
 * there turns every fallback into an error (and a deprecated one makes the Anthropic SDK print a
 * warning on every call). The dates come from the bundled price table (MODEL_RETIREMENTS).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PRICING,
  MODEL_RETIREMENTS,
  isRetired,
  modelRetirement,
} from '../../../src/policy/default-pricing.ts';
import { REPO_ROOT } from '../../support/fixtures.ts';

/** What users copy or run: every text file of these, recursively. */
const SCANNED = [
  'README.md',
  'CONTRIBUTING.md',
  'docs',
  'examples',
  'crds',
  'deploy',
  'charts',
  'src',
  'test',
  'bench',
  'scripts',
  'tools',
];
const TEXT_FILE = /\.(ts|md|ya?ml|json|tpl|py|sh|txt)$/;
/** The table itself, and benchmark results (dated records of past runs, not examples). */
const NOT_SCANNED = [/^src\/policy\/default-pricing\.ts$/, /^bench\/.*\.md$/, /node_modules/];
/** A line may name a retired model on purpose (e.g. to test the lookup) when it says so. */
const ALLOW_MARKER = 'aicb:allow-retired-model';
const MODEL_TOKEN = /(?<![\w.-])(?:claude|chatgpt|gpt|o\d|text-embedding)-[\w.-]*[a-z0-9]/g;

function files(path: string): string[] {
  const full = join(REPO_ROOT, path);
  let stat;
  try {
    stat = statSync(full);
  } catch {
    return [];
  }
  if (stat.isFile()) return [path];
  return readdirSync(full).flatMap((name) => files(join(path, name)));
}

/** `line: model (retired on …)` for every model in `text` that has a retirement date. */
export function retiredModelsIn(text: string, nowWallMs: number): string[] {
  const found: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.includes(ALLOW_MARKER)) return;
    for (const [model] of line.matchAll(MODEL_TOKEN)) {
      const retirement = modelRetirement(model);
      if (retirement === undefined) continue;
      const when = isRetired(retirement, nowWallMs) ? 'retired on' : 'retires on';
      found.push(`${i + 1}: ${model} (${when} ${retirement.retiresOn})`);
    }
  });
  return found;
}

describe('retired models', () => {
  it('are named by no example, default, doc or test', () => {
    const now = Date.now();
    const offenders = SCANNED.flatMap(files)
      .map((path) => relative(REPO_ROOT, join(REPO_ROOT, path)))
      .filter((path) => TEXT_FILE.test(path) && !NOT_SCANNED.some((re) => re.test(path)))
      .flatMap((path) =>
        retiredModelsIn(readFileSync(join(REPO_ROOT, path), 'utf8'), now).map(
          (hit) => `${path}:${hit}`,
        ),
      );
    expect(offenders).toEqual([]);
  });

  it('are found with their dated variants, and a newer model is not mistaken for one', () => {
    const [key, retiresOn] = Object.entries(MODEL_RETIREMENTS)[0] ?? [];
    if (key === undefined || retiresOn === undefined) throw new Error('no retirements to test');
    const after = Date.parse(`${retiresOn}T00:00:00Z`);
    const text = `model: gpt-4o-mini\n  modelMap: { '*': ${key}-20250101 }\n`;
    expect(retiredModelsIn(text, after)).toEqual([`2: ${key}-20250101 (retired on ${retiresOn})`]);
    expect(retiredModelsIn(text, after - 1)).toEqual([
      `2: ${key}-20250101 (retires on ${retiresOn})`,
    ]);
    expect(retiredModelsIn(`model: ${key} # ${ALLOW_MARKER}`, after)).toEqual([]);
  });
});

describe('MODEL_RETIREMENTS', () => {
  it('has every model the bundled Anthropic SDK warns about, with its end-of-life day', () => {
    // Not an exported path of the SDK: read the file the SDK's deprecation warning comes from.
    const file = join(
      REPO_ROOT,
      'node_modules/@anthropic-ai/sdk/internal/data/deprecated-models.js',
    );
    const { DEPRECATED_MODELS } = createRequire(import.meta.url)(file) as {
      DEPRECATED_MODELS: Record<string, string>;
    };
    expect(Object.keys(DEPRECATED_MODELS).length).toBeGreaterThan(0);
    for (const [model, endOfLife] of Object.entries(DEPRECATED_MODELS)) {
      // "November 30th, 2026" -> 2026-11-30
      const [, month, day, year] = /^(\w+) (\d+)\w*, (\d{4})$/.exec(endOfLife) ?? [];
      const date = new Date(`${month ?? ''} ${day ?? ''}, ${year ?? ''} 00:00 UTC`);
      const retiresOn = date.toISOString().slice(0, 10);
      // A model the price table does not list has no price to date (e.g. a preview model).
      if (modelRetirement(model) === undefined && priceless(model)) continue;
      expect(modelRetirement(model)?.retiresOn, model).toBe(retiresOn);
    }
  });

  it('dates only models of the price table, as valid calendar days', () => {
    for (const [key, day] of Object.entries(MODEL_RETIREMENTS)) {
      expect(Object.hasOwn(DEFAULT_PRICING, key), key).toBe(true);
      expect(day).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(new Date(`${day}T00:00:00Z`).toISOString().slice(0, 10)).toBe(day);
    }
  });

  it('applies to dated variants through their base name, never to a newer sibling', () => {
    const dated = modelRetirement('claude-sonnet-4-5-20250929'); // aicb:allow-retired-model
    expect(dated).toEqual({ key: 'claude-sonnet-4-5', retiresOn: '2026-11-30' }); // aicb:allow-retired-model
    expect(modelRetirement('claude-sonnet-4-20250514')?.key).toBe('claude-sonnet-4'); // aicb:allow-retired-model
    expect(modelRetirement('claude-sonnet-4-6')).toBeUndefined();
    expect(modelRetirement('claude-haiku-4-5-20251001')).toBeUndefined();
    expect(modelRetirement('constructor')).toBeUndefined();
    expect(modelRetirement('')).toBeUndefined();
  });
});

/** Whether the price table has no entry a model falls under. */
function priceless(model: string): boolean {
  for (let m = model; m !== ''; m = m.slice(0, Math.max(0, m.lastIndexOf('-')))) {
    if (Object.hasOwn(DEFAULT_PRICING, m)) return false;
    if (!m.includes('-')) break;
  }
  return true;
}
