// Runs bench/eso-sync.ts through bench/bed-runner.mjs and returns its "esoSync" object. Needs
// the test bed (scripts/build-kube-apiserver.sh) and the ESO controller (scripts/build-eso.sh),
// and dist/ (bench.sh builds it first).
import { bedBench } from "./bed-runner.mjs";

export const runEsoBench = bedBench("bench/eso-sync.ts", "esoSync", "eso sync: starting the test bed with the External Secrets Operator...");
