#!/usr/bin/env node
// The `aicb` command. In a clone of the repository it runs the TypeScript sources (Node.js 24
// strips the types; `npx aicb` puts the pinned Node.js 24 from node_modules/.bin first on PATH),
// so it works right after `npm ci` and never runs a stale build. The published package ships
// no sources and runs the compiled dist/ instead.
import { existsSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';

// The runtime floor, checked here rather than in package.json `engines`: npm checks `engines`
// against the Node.js that runs npm itself, which in a clone is the bootstrap Node.js (>= 20,
// see `devEngines`), not the pinned Node.js 24 the command runs on.
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(
    `aicb needs Node.js 22.19 or later (undici 8); this is v${process.versions.node}.\n` +
      'In a clone, `npm ci` installs the pinned Node.js 24 and `npx aicb` uses it.\n',
  );
  process.exit(1);
}

const sources = new URL('../src/cli/main.ts', import.meta.url);
await import(existsSync(sources) ? sources.href : '../dist/cli/main.js');
