#!/usr/bin/env node
// Launcher of the CLI (the bundle dist/cli.mjs, made by `npm run build`; `npm test`, `npm run demo`
// and `npm run pack:cli` build it too, `npm install` does not). The product needs Node.js 22: when
// the `node` that started this file is older (a machine whose node is 20), the CLI is re-run under
// a Node 22 found, in order, in ECR_TOKEN_ROTATOR_NODE, this package's own `node` dependency
// (node_modules/node: the clone's, or the one an online `npm install -g` adds) and the other
// `node` binaries on PATH. If there is none, one line says so (exit 2).
// This file must stay plain JavaScript that any Node.js since 14 can parse and run.
import { spawn, spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, realpathSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const MIN = [22, 12];
const here = dirname(realpathSync(fileURLToPath(import.meta.url)));
const root = dirname(here);

/** Whether a version string (22.23.3) is at least MIN. */
function recentEnough(version) {
  const [major, minor] = version.split(".").map(Number);
  return major > MIN[0] || (major === MIN[0] && minor >= MIN[1]);
}

/** The version of the node binary at `path`, or undefined if it is not one. */
function versionOf(path) {
  try {
    accessSync(path, constants.X_OK);
  } catch {
    return undefined;
  }
  const out = spawnSync(path, ["-p", "process.versions.node"], { encoding: "utf8", timeout: 10000 });
  return out.status === 0 ? out.stdout.trim() : undefined;
}

/** A Node 22 binary to re-run under, or undefined. */
function findNode() {
  const candidates = [];
  if (process.env.ECR_TOKEN_ROTATOR_NODE) candidates.push(process.env.ECR_TOKEN_ROTATOR_NODE);
  // This package's own `node` dependency, in its node_modules or (installed) beside it.
  candidates.push(join(root, "node_modules", "node", "bin", "node"), join(root, "..", "node", "bin", "node"));
  for (const dir of (process.env.PATH || "").split(delimiter)) if (dir) candidates.push(join(dir, "node"));
  const seen = new Set([process.execPath]);
  for (const candidate of candidates) {
    let real;
    try {
      real = realpathSync(candidate);
    } catch {
      continue;
    }
    if (seen.has(real)) continue;
    seen.add(real);
    const version = versionOf(real);
    if (version && recentEnough(version)) return real;
  }
  return undefined;
}

if (!recentEnough(process.versions.node)) {
  const node = process.env.ECR_TOKEN_ROTATOR_REEXEC ? undefined : findNode();
  if (node === undefined) {
    process.stderr.write(
      `ecr-token-rotator: needs Node.js ${MIN.join(".")} or newer, and this is Node.js ${process.versions.node} (${process.execPath}); no Node.js 22 was found (ECR_TOKEN_ROTATOR_NODE, the package's node dependency, PATH): install one (e.g. nvm install 22) or set ECR_TOKEN_ROTATOR_NODE to its path\n`,
    );
    process.exit(2);
  }
  const child = spawn(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, ECR_TOKEN_ROTATOR_REEXEC: "1" },
  });
  // The terminal's Ctrl-C reaches the child itself (same process group): it decides what an
  // interrupt does, this process only waits for it. A SIGTERM/SIGHUP sent to this process is passed on.
  process.on("SIGINT", () => undefined);
  for (const signal of ["SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => {
    process.exitCode = code ?? (signal === "SIGINT" ? 130 : 1);
  });
} else {
  // ECR_ROTATOR_DIST names another bundle directory (the test suite's temporary build).
  const bundle = join(process.env.ECR_ROTATOR_DIST || join(root, "dist"), "cli.mjs");
  if (!existsSync(bundle)) {
    process.stderr.write(`ecr-token-rotator: ${bundle} is missing; run \`npm run build\` first\n`);
    process.exit(2);
  }
  const { main } = await import(pathToFileURL(bundle).href);
  await main();
}
