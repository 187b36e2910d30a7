/**
 * `aicb sidecar`: runs the proxy and admin servers. `--config FILE` selects standalone mode (a
 * watched AICircuitPolicy file); the cluster mode, fed by the controller, comes with it.
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import {
  buildSidecar,
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_BUFFERED_BODY_BYTES,
  DEFAULT_REQUEST_TIMEOUT_MS,
} from '../dataplane/build-sidecar.ts';
import { systemClock } from '../shared/clock.ts';
import { createLogger } from '../shared/create-logger.ts';
import type { CommandIo } from './command-io.ts';

export const SIDECAR_USAGE = `Usage: aicb sidecar --config FILE [options]            (standalone)
       aicb sidecar --controller URL[,URL] [options]    (in a cluster)

  --config FILE          AICircuitPolicy YAML to run (watched; edits apply without restart)
  --controller URLS      controller delivery endpoints, tried in turn (env AICB_CONTROLLER)
  --token-file PATH      projected ServiceAccount token, audience aicircuit.io
                         (default /var/run/secrets/aicircuit.io/token, env AICB_TOKEN_FILE)
  --ca-file PATH         CA of the controller's certificate (env AICB_CONTROLLER_CA_FILE)
  --state-dir DIR        keeps the last good policy across restarts (env AICB_STATE_DIR)
  --host HOST            proxy listen address (default 127.0.0.1, env AICB_HOST)
  --port N               proxy port (default 15400, env AICB_PORT)
  --admin-host HOST      admin listen address: health, metrics (default 127.0.0.1, env AICB_ADMIN_HOST)
  --admin-port N         admin port (default 15401, env AICB_ADMIN_PORT)
  --max-body-bytes N     largest request body accepted (default ${DEFAULT_MAX_BODY_BYTES}; 413 above)
  --max-buffered-body-bytes N
                         request bytes all requests may hold at once
                         (default ${DEFAULT_MAX_BUFFERED_BODY_BYTES}; 503 AICB_OVERLOADED above)
  --body-timeout MS      longest wait for the next bytes of a request body
                         (default ${DEFAULT_BODY_TIMEOUT_MS}; 408 AICB_BODY_TIMEOUT after)
  --headers-timeout MS   longest wait for a request's headers
                         (default ${DEFAULT_HEADERS_TIMEOUT_MS}; 408 AICB_REQUEST_TIMEOUT after)
  --request-timeout MS   longest wait for a whole request, body included; never bounds the answer
                         (default ${DEFAULT_REQUEST_TIMEOUT_MS}; 408 AICB_REQUEST_TIMEOUT after)
  --log-level LEVEL      trace, debug, info, warn, error (default info, env AICB_LOG_LEVEL)
`;

export interface RunningSidecar {
  readonly proxyUrl: string;
  readonly adminUrl: string;
  stop(): Promise<void>;
}

export async function runSidecar(
  args: readonly string[],
  io: CommandIo,
  env: Readonly<Record<string, string | undefined>>,
): Promise<RunningSidecar | number> {
  let values;
  try {
    values = parseArgs({
      args: [...args],
      options: {
        config: { type: 'string', short: 'c' },
        controller: { type: 'string' },
        'token-file': { type: 'string' },
        'ca-file': { type: 'string' },
        'state-dir': { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        'admin-host': { type: 'string' },
        'admin-port': { type: 'string' },
        'max-body-bytes': { type: 'string' },
        'max-buffered-body-bytes': { type: 'string' },
        'body-timeout': { type: 'string' },
        'headers-timeout': { type: 'string' },
        'request-timeout': { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (error) {
    io.err(`aicb sidecar: ${(error as Error).message}\n\n${SIDECAR_USAGE}`);
    return 2;
  }
  if (values.help === true) {
    io.out(SIDECAR_USAGE);
    return 0;
  }
  const config = values.config ?? env.AICB_CONFIG;
  const controllerUrls = (values.controller ?? env.AICB_CONTROLLER ?? '')
    .split(',')
    .map((u) => u.trim().replace(/\/+$/, ''))
    .filter((u) => u !== '');
  if ((config === undefined) === (controllerUrls.length === 0)) {
    io.err(`aicb sidecar: give either --config FILE or --controller URL\n\n${SIDECAR_USAGE}`);
    return 2;
  }
  const port = integer(values.port ?? env.AICB_PORT, 15400, 'port', io);
  const adminPort = integer(values['admin-port'] ?? env.AICB_ADMIN_PORT, 15401, 'admin-port', io);
  const maxBodyBytes = integer(
    values['max-body-bytes'],
    DEFAULT_MAX_BODY_BYTES,
    'max-body-bytes',
    io,
  );
  const maxBufferedBodyBytes = integer(
    values['max-buffered-body-bytes'],
    DEFAULT_MAX_BUFFERED_BODY_BYTES,
    'max-buffered-body-bytes',
    io,
  );
  const bodyTimeoutMs = integer(
    values['body-timeout'],
    DEFAULT_BODY_TIMEOUT_MS,
    'body-timeout',
    io,
  );
  const headersTimeoutMs = integer(
    values['headers-timeout'],
    DEFAULT_HEADERS_TIMEOUT_MS,
    'headers-timeout',
    io,
  );
  const requestTimeoutMs = integer(
    values['request-timeout'],
    DEFAULT_REQUEST_TIMEOUT_MS,
    'request-timeout',
    io,
  );
  if (
    headersTimeoutMs !== undefined &&
    requestTimeoutMs !== undefined &&
    requestTimeoutMs > 0 &&
    (headersTimeoutMs === 0 || headersTimeoutMs > requestTimeoutMs)
  ) {
    io.err('aicb sidecar: --headers-timeout must be between 1 and --request-timeout\n');
    return 2;
  }
  if (
    headersTimeoutMs === undefined ||
    requestTimeoutMs === undefined ||
    port === undefined ||
    adminPort === undefined ||
    maxBodyBytes === undefined ||
    maxBufferedBodyBytes === undefined ||
    bodyTimeoutMs === undefined
  )
    return 2;
  const host = values.host ?? env.AICB_HOST ?? '127.0.0.1';
  const adminHost = values['admin-host'] ?? env.AICB_ADMIN_HOST ?? '127.0.0.1';

  let secrets: () => readonly string[] = () => [];
  const logger = createLogger({
    level: values['log-level'] ?? env.AICB_LOG_LEVEL ?? 'info',
    name: 'aicb-sidecar',
    secrets: () => secrets(),
  });
  const sidecar = buildSidecar({
    logger,
    env,
    maxBodyBytes,
    maxBufferedBodyBytes,
    bodyTimeoutMs,
    headersTimeoutMs,
    requestTimeoutMs,
    // In a cluster the controller alerts once per policy transition, not each sidecar.
    alerting: config !== undefined,
    instanceId: env.POD_NAME ?? hostname(),
  });
  secrets = () => sidecar.runtime.secrets();
  let source: { close(): void | Promise<void> };
  try {
    // Each mode loads only its own policy source, as resident memory paid in every pod: the
    // file mode needs the YAML parser, the CRD schema and the compiler; the cluster mode needs
    // the delivery client and the snapshot schema.
    if (config !== undefined) {
      const { startStandalonePolicy } = await import('../dataplane/config/standalone-policy.ts');
      source = await startStandalonePolicy(config, sidecar, logger);
    } else {
      const { ControllerClient } = await import('../dataplane/controller-client.ts');
      const client = new ControllerClient({
        urls: controllerUrls,
        tokenFile:
          values['token-file'] ?? env.AICB_TOKEN_FILE ?? '/var/run/secrets/aicircuit.io/token',
        ...optional('caFile', values['ca-file'] ?? env.AICB_CONTROLLER_CA_FILE),
        // The injector hands the CA over as an environment variable (no cross-namespace mount).
        ...optional('ca', env.AICB_CONTROLLER_CA),
        ...optional('stateDir', values['state-dir'] ?? env.AICB_STATE_DIR),
        sidecar,
        logger,
        clock: systemClock,
      });
      await client.start();
      source = { close: () => client.stop() };
    }
  } catch (error) {
    io.err(`aicb sidecar: ${(error as Error).message}\n`);
    await sidecar.close();
    return 1;
  }
  const proxyUrl = await sidecar.proxy.listen({ host, port });
  const adminUrl = await sidecar.admin.listen({ host: adminHost, port: adminPort });
  logger.info({ proxy: proxyUrl, admin: adminUrl }, 'sidecar listening');
  return {
    proxyUrl,
    adminUrl,
    async stop() {
      await source.close();
      await sidecar.close();
      logger.info('sidecar stopped');
      logger.flush();
    },
  };
}

function integer(
  text: string | undefined,
  fallback: number,
  name: string,
  io: CommandIo,
): number | undefined {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    io.err(`aicb sidecar: --${name} must be a non-negative integer, got ${JSON.stringify(text)}\n`);
    return undefined;
  }
  return value;
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return (value === undefined ? {} : { [key]: value }) as Partial<Record<K, string>>;
}
