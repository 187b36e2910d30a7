/**
 * Node's HTTP server, loaded as a built-in rather than through an ES module import: importing
 * `node:http` as ESM costs about 13 MB more resident memory (measured on Node 24: 59 MB against
 * 46 MB after a GC, bare Node 42 MB), paid in every pod that runs the sidecar.
 */
import type * as Http from 'node:http';

const http = process.getBuiltinModule('node:http');

export const createServer: typeof Http.createServer = http.createServer;

/** Reason phrases by status code, for answers written on a raw socket. */
export const STATUS_CODES: typeof Http.STATUS_CODES = http.STATUS_CODES;
