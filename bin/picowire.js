#!/usr/bin/env node
// The picowire command: runs the CLI compiled to plain JavaScript (dist/picowire.js), which `make`
// writes in a clone and `npm pack` puts in the package. No TypeScript is compiled at run time.
import { existsSync } from 'node:fs';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  process.stderr.write(`picowire: needs Node.js >= 20.19, found ${process.versions.node}\n`);
  process.exit(1);
}
const cli = new URL('../dist/picowire.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('picowire: dist/picowire.js is missing: in a clone of picowire, run `make` (or `npm run compile`) first\n');
  process.exit(1);
}
await import(cli.href);
