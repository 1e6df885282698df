// Runs bench/heal-fanout.ts (TypeScript) on Node 22: bundles it with esbuild into .bench/ at the
// repository root (so its paths resolve as from bench/), then runs it with --json and returns
// the "heal" object. Needs the Kubernetes test bed (scripts/build-kube-apiserver.sh).
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { build } from "esbuild";

export async function runHealBench({ quiet = false, args = [] } = {}) {
  const root = resolve(".");
  mkdirSync(".bench", { recursive: true });
  const outfile = resolve(".bench/heal-fanout.mjs");
  await build({
    entryPoints: ["bench/heal-fanout.ts"],
    outfile,
    bundle: true,
    platform: "node",
    target: "node22",
    format: "esm",
    mainFields: ["module", "main"],
    packages: "external",
    logLevel: "warning",
  });
  if (!quiet) process.stderr.write("heal fan-out: starting the test bed (1,000 namespaces, 5 ms per request)...\n");
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
  if (!line) throw new Error(`heal bench printed no JSON:\n${out.slice(-2000)}`);
  return JSON.parse(line).heal;
}
