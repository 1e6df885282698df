// Runs bench/stuck-pods.ts (the bed's real node) through bench/bed-runner.mjs and returns its
// "stuckPods" object. Needs the node's binaries (scripts/build-node.sh) and root; where the
// node cannot run, the benchmark says why and returns { skipped: reason }.
import { bedBench } from "./bed-runner.mjs";

export const runStuckPodsBench = bedBench("bench/stuck-pods.ts", "stuckPods", "stuck pods: the real node, 20 pods after a token change (several minutes)...");
