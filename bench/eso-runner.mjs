// Runs bench/eso-sync.ts (TypeScript) on Node 22: bundles it with esbuild into .bench/ at the
// repository root, then runs it with --json and returns the "esoSync" object. Needs the test bed
// (scripts/build-kube-apiserver.sh) and the ESO controller (scripts/build-eso.sh), and dist/
// (bench.sh builds it first).
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { build } from "esbuild";

export async function runEsoBench({ quiet = false, args = [] } = {}) {
  const root = resolve(".");
  mkdirSync(".bench", { recursive: true });
  const outfile = resolve(".bench/eso-sync.mjs");
  await build({
    entryPoints: ["bench/eso-sync.ts"],
    outfile,
    bundle: true,
    platform: "node",
    target: "node22",
    format: "esm",
    mainFields: ["module", "main"],
    packages: "external",
    logLevel: "warning",
  });
  if (!quiet) process.stderr.write("eso sync: starting the test bed with the External Secrets Operator...\n");
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
  if (!line) throw new Error(`eso sync bench printed no JSON:\n${out.slice(-2000)}`);
  return JSON.parse(line).esoSync;
}
