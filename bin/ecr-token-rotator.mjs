#!/usr/bin/env node
// Thin launcher: the CLI is the bundle dist/cli.mjs, made by `npm run build` (npm test and
// `npm run demo` build it too; `npm install` does not).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const bundle = fileURLToPath(new URL("../dist/cli.mjs", import.meta.url));
if (!existsSync(bundle)) {
  process.stderr.write("ecr-token-rotator: dist/cli.mjs is missing; run `npm run build` first\n");
  process.exit(2);
}
const { main } = await import(bundle);
await main();
