// npm run bench [-- --json] [--skip-heal] [--skip-diagnose]: rotate-path cold start, then (when
// the Kubernetes test bed is available) the heal fan-out and the incident-scale diagnosis
// benchmarks. Prints numbers; asserts nothing.
import { existsSync } from "node:fs";
import { benchRotatePath } from "./rotate-path.mjs";

const json = process.argv.includes("--json");
const result = { node: process.version, ...benchRotatePath() };

if (!process.argv.includes("--skip-heal") && existsSync("bench/heal-fanout.ts")) {
  const { runHealBench } = await import("./heal-runner.mjs");
  result.heal = await runHealBench({ quiet: json });
}
if (!process.argv.includes("--skip-diagnose") && existsSync("bench/diagnose-incident.ts")) {
  const { runDiagnoseBench } = await import("./heal-runner.mjs");
  result.diagnose = await runDiagnoseBench({ quiet: json });
}

if (json) {
  console.log(JSON.stringify(result));
} else {
  console.log(`node ${result.node}`);
  console.log(
    `rotate path: bundle ${(result.rotate.bundleBytes / 1024).toFixed(0)} KB in ${result.rotate.files} file(s); import ${result.rotate.importMs} ms = bare node ${result.bareNodeMs} ms + ${result.rotate.importOverBareMs} ms`,
  );
  if (result.heal) console.log(`heal fan-out: ${JSON.stringify(result.heal)}`);
  if (result.diagnose) console.log(`diagnose at incident scale: ${JSON.stringify(result.diagnose)}`);
}
