// Rotate-path cold start: handler bundle size (entry + statically imported chunks) and the time
// to start node and import it, against bare node. Medians of several runs.
import { execFileSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Files loaded by importing `entry`: follows static `import … from "./x"` edges only. */
export function staticClosure(entry) {
  const seen = new Set();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, "utf8");
    // esbuild's minified ESM: `import{a as b}from"./chunks/x.mjs"` or `import"./chunks/x.mjs"`;
    // dynamic `import("./chunks/x.mjs")` is excluded on purpose.
    for (const m of text.matchAll(/(?:^|[;}\s])import\s*(?:[^"'()]*?from\s*)?["'](\.[^"']+)["']/g)) {
      queue.push(join(dirname(file), m[1]));
    }
  }
  return [...seen];
}

function timeImport(node, args, runs, env = process.env) {
  const samples = [];
  for (let i = 0; i < runs; i += 1) {
    const start = process.hrtime.bigint();
    execFileSync(node, args, { stdio: "ignore", env });
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return median(samples);
}

export function benchRotatePath({ runs = 9 } = {}) {
  const entry = "dist/handler/rotate.mjs";
  const files = staticClosure(entry);
  const bundleBytes = files.reduce((sum, f) => sum + statSync(f).size, 0);
  const node = process.execPath;
  timeImport(node, ["-e", "0"], 2); // warm the page cache
  const bareNodeMs = timeImport(node, ["-e", "0"], runs);
  // With a region, as in Lambda: the module's initialisation then builds the configuration and the
  // SDK clients, which a cold start pays for too (without one it stops at the configuration error).
  const env = { ...process.env, AWS_REGION: process.env.AWS_REGION ?? "us-east-1" };
  const importMs = timeImport(node, ["--input-type=module", "-e", `await import(${JSON.stringify("./" + entry)})`], runs, env);
  return {
    rotate: { bundleBytes, files: files.length, importMs: Math.round(importMs), importOverBareMs: Math.round(importMs - bareNodeMs) },
    bareNodeMs: Math.round(bareNodeMs),
  };
}
