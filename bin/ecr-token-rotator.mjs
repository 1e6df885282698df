#!/usr/bin/env node
// Thin launcher: the CLI is the bundle dist/cli.mjs, made by `npm run build` (`npm run demo`
// builds it too; `npm install` does not). ECR_ROTATOR_DIST names another bundle directory (the
// test suite's temporary build).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const dist = process.env.ECR_ROTATOR_DIST || fileURLToPath(new URL("../dist", import.meta.url));
const bundle = join(dist, "cli.mjs");
if (!existsSync(bundle)) {
  process.stderr.write(`ecr-token-rotator: ${bundle} is missing; run \`npm run build\` first\n`);
  process.exit(2);
}
const { main } = await import(pathToFileURL(bundle).href);
await main();
