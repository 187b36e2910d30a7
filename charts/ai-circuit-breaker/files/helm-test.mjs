// `helm test`: the installation works as a platform engineer needs it to. Runs in a pod with the
// controller's image, with Node's built-ins only.
//
// 1. The controller has a leader that is Ready, and the delivery Service reaches it: GET /readyz
//    through the Service that selects the pod labelled aicircuit.io/leader=true.
// 2. The injector webhook answers through its Service over TLS signed by the chart's CA: POST an
//    AdmissionReview for a pod of the release namespace (never injected, so nothing changes) and
//    expect it allowed, with our request uid.
//
// Every URL and the CA file come from the environment, so the same file is exercised by the
// repository's cluster tests against a local controller.
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

const TIMEOUT_MS = 10_000;

function call(url, { method = 'GET', body, ca } = {}) {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = send(
      target,
      {
        method,
        timeout: TIMEOUT_MS,
        ...(ca === undefined ? {} : { ca }),
        headers: payload === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function controllerLeads(url) {
  const { status, text } = await call(url);
  const body = parse(text);
  if (status !== 200 || body?.status !== 'leader') {
    throw new Error(
      `expected 200 {"status":"leader"} from ${url}, got ${status} ${text.slice(0, 200)}`,
    );
  }
  return `a leader answers at ${url} (${body.sidecars} sidecars connected)`;
}

async function webhookAnswers(url, ca, namespace) {
  const uid = `helm-test-${Date.now()}`;
  const review = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace,
      operation: 'CREATE',
      dryRun: true,
      object: {
        metadata: { name: 'helm-test-probe', namespace },
        spec: { containers: [{ name: 'probe', image: 'probe' }] },
      },
    },
  };
  const { status, text } = await call(url, { method: 'POST', body: review, ca });
  const answer = parse(text)?.response;
  if (status !== 200 || answer?.uid !== uid || answer?.allowed !== true) {
    throw new Error(
      `expected an allowed AdmissionReview from ${url}, got ${status} ${text.slice(0, 200)}`,
    );
  }
  return `the webhook answers at ${url} over TLS signed by the chart's CA`;
}

const env = process.env;
let failed = false;
for (const [name, check] of [
  ['controller', () => controllerLeads(env.AICB_READYZ_URL)],
  [
    'webhook',
    () =>
      webhookAnswers(
        env.AICB_WEBHOOK_URL,
        readFileSync(env.AICB_CA_FILE, 'utf8'),
        env.AICB_NAMESPACE,
      ),
  ],
]) {
  try {
    console.log(`ok   ${name}: ${await check()}`);
  } catch (error) {
    failed = true;
    console.log(`FAIL ${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
process.exitCode = failed ? 1 : 0;
