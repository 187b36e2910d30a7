// A throwaway CA and a server certificate for 127.0.0.1 (and localhost), made with openssl, for
// tests that need HTTPS the API server trusts (admission webhooks) or sidecars trust.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  cleanup(): void;
}

export function makeTestTls(): TestTls {
  const dir = mkdtempSync(join(tmpdir(), 'aicb-tls-'));
  const f = (name: string) => join(dir, name);
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-days',
    '1',
    '-subj',
    '/CN=aicb-test-ca',
  ]);
  openssl([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    f('tls.key'),
    '-out',
    f('tls.csr'),
    '-subj',
    '/CN=127.0.0.1',
  ]);
  execFileSync('sh', [
    '-c',
    `printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ${f('ext.cnf')}`,
  ]);
  openssl([
    'x509',
    '-req',
    '-in',
    f('tls.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('tls.crt'),
    '-days',
    '1',
    '-extfile',
    f('ext.cnf'),
  ]);
  return {
    ca: readFileSync(f('ca.crt'), 'utf8'),
    cert: readFileSync(f('tls.crt'), 'utf8'),
    key: readFileSync(f('tls.key'), 'utf8'),
    caFile: f('ca.crt'),
    certFile: f('tls.crt'),
    keyFile: f('tls.key'),
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
