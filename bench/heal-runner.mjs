// The benchmarks on the Kubernetes test bed (heal fan-out, diagnosis, fleet scale), each run by
// bench/bed-runner.mjs. Needs the test bed (scripts/build-kube-apiserver.sh).
import { bedBench } from "./bed-runner.mjs";

export const runHealBench = bedBench("bench/heal-fanout.ts", "heal", "heal fan-out: starting the test bed (1,000 namespaces, 5 ms per request)...");

export const runDiagnoseBench = bedBench(
  "bench/diagnose-incident.ts",
  "diagnose",
  "diagnose: starting the test bed (1,000 namespaces, 300 stuck pods, 5 ms per request)...",
);

/** heal10k and fleet in one run: `{heal10k: {...}, fleet: {...}}` (10,000 namespaces; 4 × 1,000 vs 4,000). */
export const runFleetBench = bedBench(
  "bench/fleet-scale.ts",
  undefined,
  "fleet scale: starting the test bed (10,000 namespaces, 4 × 1,000 fleet, 5 ms per request; several minutes)...",
);
