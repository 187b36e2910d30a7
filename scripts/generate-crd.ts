// Writes every file generated from the policy schema: the CRD (plus its copy in the Helm chart,
// once the chart exists) and the field reference in docs/. With --check it writes nothing and
// fails when a checked-in file differs from what the generator produces now.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CRD_FILE, renderCrdYaml } from '../src/cli/crd-yaml.ts';
import {
  POLICY_REFERENCE_FILE,
  renderPolicyReference,
} from '../src/cli/policy-reference-markdown.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const CHART_CRD = 'charts/ai-circuit-breaker/crds/aicircuitpolicies.aicircuit.io.yaml';
const DEPLOY_CRD = 'deploy/base/aicircuitpolicies.aicircuit.io.yaml';
const crd = renderCrdYaml();
const generated: [file: string, content: string][] = [
  [CRD_FILE, crd],
  [POLICY_REFERENCE_FILE, renderPolicyReference()],
];
if (existsSync(join(root, 'charts/ai-circuit-breaker'))) generated.push([CHART_CRD, crd]);
// The kustomize base carries its own copy (deploy/render.sh renders the rest from the chart).
if (existsSync(join(root, 'deploy/base'))) generated.push([DEPLOY_CRD, crd]);

const check = process.argv.includes('--check');
let drift = false;
for (const [file, expected] of generated) {
  const path = join(root, file);
  const actual = existsSync(path) ? readFileSync(path, 'utf8') : '';
  if (actual === expected) continue;
  if (check) {
    console.error(`${file} is out of date: run \`npm run gen:crd\` and commit the result.`);
    drift = true;
  } else {
    writeFileSync(path, expected);
    console.log(`wrote ${file}`);
  }
}
if (drift) process.exit(1);
if (check) console.log(`generated files are up to date: ${generated.map(([f]) => f).join(', ')}`);
