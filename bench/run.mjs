// npm run bench [-- --json] [--skip-cold-start] [--skip-heal] [--skip-diagnose] [--skip-eso] [--skip-fleet] [--skip-node]:
// rotate-path cold start (bundle import; then the packaged zip under the real Lambda runtime
// beside a bare handler, "coldStart"), then (when the Kubernetes test bed is available) the heal fan-out, the
// incident-scale diagnosis and the fleet-scale (heal10k, fleet) benchmarks, and the ESO re-sync
// latency (heal's write → the real External Secrets Operator's update; "esoSync"), and, on the
// bed's real node, 20 stuck pods after a token change: heal with restart, heal without, rotation
// alone ("stuckPods"; skipped with the reason where the node cannot run). Prints
// numbers; asserts nothing.
import { existsSync } from "node:fs";
import { benchRotatePath } from "./rotate-path.mjs";

const json = process.argv.includes("--json");
const result = { node: process.version, ...benchRotatePath() };

if (!process.argv.includes("--skip-cold-start") && existsSync("bench/cold-start.ts")) {
  const { runBedBench } = await import("./bed-runner.mjs");
  result.coldStart = await runBedBench({
    entry: "bench/cold-start.ts",
    key: "coldStart",
    banner: "cold start: the packaged zip under the Lambda RIE + aws-lambda-ric, beside a bare handler (7 cold starts each)...",
    quiet: json,
    outDir: ".bench/cold-start",
  });
}
if (!process.argv.includes("--skip-heal") && existsSync("bench/heal-fanout.ts")) {
  const { runHealBench } = await import("./heal-runner.mjs");
  result.heal = await runHealBench({ quiet: json });
}
if (!process.argv.includes("--skip-diagnose") && existsSync("bench/diagnose-incident.ts")) {
  const { runDiagnoseBench } = await import("./heal-runner.mjs");
  result.diagnose = await runDiagnoseBench({ quiet: json });
}
if (!process.argv.includes("--skip-fleet") && existsSync("bench/fleet-scale.ts")) {
  const { runFleetBench } = await import("./heal-runner.mjs");
  Object.assign(result, await runFleetBench({ quiet: json }));
}

if (!process.argv.includes("--skip-eso") && existsSync("bench/eso-sync.ts")) {
  const { runEsoBench } = await import("./eso-runner.mjs");
  result.esoSync = await runEsoBench({ quiet: json });
}

if (!process.argv.includes("--skip-node") && existsSync("bench/stuck-pods.ts")) {
  const { runStuckPodsBench } = await import("./node-runner.mjs");
  result.stuckPods = await runStuckPodsBench({ quiet: json });
}

if (json) {
  console.log(JSON.stringify(result));
} else {
  console.log(`node ${result.node}`);
  console.log(
    `rotate path: bundle ${(result.rotate.bundleBytes / 1024).toFixed(0)} KB in ${result.rotate.files} file(s); import ${result.rotate.importMs} ms = bare node ${result.bareNodeMs} ms + ${result.rotate.importOverBareMs} ms`,
  );
  if (result.coldStart) {
    const c = result.coldStart;
    console.log(
      `cold start (RIE + aws-lambda-ric, scheduled rotate writing a new version, median of ${c.runs}): init ${c.initMs} ms vs bare handler ${c.bare.initMs} ms (${c.initRatio} ×, target ≤ 1.0 ×); first invocation ${c.firstInvokeMs} ms vs ${c.bare.firstInvokeMs} ms (${c.firstInvokeRatio} ×, target ≤ 1.3 ×)`,
    );
  }
  if (result.heal) console.log(`heal fan-out: ${JSON.stringify(result.heal)}`);
  if (result.diagnose) console.log(`diagnose at incident scale: ${JSON.stringify(result.diagnose)}`);
  if (result.esoSync) {
    const e = result.esoSync;
    console.log(
      `eso sync (ESO ${e.eso}): heal's write → ESO's update ${e.ms} ms median of ${e.runs.length} ${JSON.stringify(e.runs)}; baseline (${e.baseline.what}) ${e.baseline.ms} ms`,
    );
  }
  if (result.stuckPods) {
    const s = result.stuckPods;
    if (s.skipped) console.log(`stuck pods: skipped — ${s.skipped}`);
    else
      console.log(
        `stuck pods (${s.pods}): heal with restart ${s.restartMs} ms | heal without restart ${s.noRestartMs} ms | rotation alone (back-off) ${s.backoffMs} ms; requests ${JSON.stringify(s.requests)}; baseline one fresh pod ${s.baseline.onePodMs} ms, ${s.pods} fresh pods ${s.baseline.podsMs} ms`,
      );
  }
  if (result.heal10k) console.log(`heal10k: ${JSON.stringify(result.heal10k)}`);
  if (result.fleet) console.log(`fleet: ${JSON.stringify(result.fleet)}`);
}
