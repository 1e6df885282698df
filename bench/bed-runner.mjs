// Runs a TypeScript benchmark that needs the Kubernetes test bed (bench/heal-fanout.ts,
// bench/diagnose-incident.ts, bench/fleet-scale.ts, bench/eso-sync.ts) on Node 22: bundles it
// with esbuild into .bench/ at the repository root (so its paths resolve as from bench/), runs it
// with --json and returns the object under `key` of its JSON line (the whole line without a key).
// Needs the test bed (scripts/build-kube-apiserver.sh). Used by heal-runner.mjs and eso-runner.mjs.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { basename, resolve } from "node:path";
import { build } from "esbuild";

// `outDir`: where the bundle goes (default .bench); a benchmark whose modules find the repository
// two folders up from themselves (test/deploy/support.ts's REPO) is bundled two folders deep.
export async function runBedBench({ entry, key, banner, quiet = false, args = [], outDir = ".bench" }) {
  const root = resolve(".");
  mkdirSync(outDir, { recursive: true });
  const outfile = resolve(outDir, basename(entry).replace(/\.ts$/, ".mjs"));
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    target: "node22",
    format: "esm",
    mainFields: ["module", "main"],
    packages: "external",
    logLevel: "warning",
  });
  if (!quiet) process.stderr.write(`${banner}\n`);
  const out = execFileSync(process.execPath, [outfile, "--json", ...args], {
    env: { ...process.env, ECR_ROTATOR_ROOT: root },
    encoding: "utf8",
    stdio: ["ignore", "pipe", quiet ? "ignore" : "inherit"],
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = out
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .pop();
  if (!line) throw new Error(`${entry} printed no JSON:\n${out.slice(-2000)}`);
  const parsed = JSON.parse(line);
  return key === undefined ? parsed : parsed[key];
}

/** A runner of one bed benchmark: `({ quiet, args }) => runBedBench({ entry, key, banner, quiet, args })`. */
export function bedBench(entry, key, banner) {
  return ({ quiet = false, args = [] } = {}) => runBedBench({ entry, key, banner, quiet, args });
}
