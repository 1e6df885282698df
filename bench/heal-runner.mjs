// Runs the bed benchmarks written in TypeScript on Node 22: bundles one (bench/heal-fanout.ts or
// bench/fleet-scale.ts) with esbuild into .bench/ at the repository root (so its paths resolve as
// from bench/), runs it with --json and returns its JSON object. Needs the Kubernetes test bed
// (scripts/build-kube-apiserver.sh).
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { basename, resolve } from "node:path";
import { build } from "esbuild";

async function runBedBench(entry, { quiet = false, args = [], banner }) {
  const root = resolve(".");
  mkdirSync(".bench", { recursive: true });
  const outfile = resolve(`.bench/${basename(entry, ".ts")}.mjs`);
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
  return JSON.parse(line);
}

/** The heal fan-out: `{namespaces, wallMs, requests, peakRssMb}` for 1,000 namespaces. */
export async function runHealBench(options = {}) {
  return (await runBedBench("bench/heal-fanout.ts", { ...options, banner: "heal fan-out: starting the test bed (1,000 namespaces, 5 ms per request)..." }))
    .heal;
}

/** heal10k and fleet: `{heal10k: {...}, fleet: {...}}` (10,000 namespaces; 4 × 1,000 vs 4,000). */
export async function runFleetBench(options = {}) {
  return runBedBench("bench/fleet-scale.ts", {
    ...options,
    banner: "fleet scale: starting the test bed (10,000 namespaces, 4 × 1,000 fleet, 5 ms per request; several minutes)...",
  });
}
