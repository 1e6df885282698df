/**
 * Stuck pods after a token change, on the bed's real node: 20 pods of a Deployment stuck in the
 * kubelet's ImagePullBackOff (the registry moved to a new token), then three ways out, each leg
 * in its own namespace, in the same run:
 *   restart   `heal --force --restart-pods` (RESTART_STUCK_PODS=true): the Secret updated, the
 *             stuck pods evicted, their ReplicaSet's replacements pull at once;
 *   noRestart `heal --force`: the Secret updated in place, the kubelet retries when its
 *             back-off expires;
 *   backoff   `rotate --force` with FALLBACK_MODE=always: the Secret fixed by a rotation alone,
 *             no heal, no diagnosis — the kubelet's back-off decides.
 * Timed: from the command's start to every one of the 20 pods Running (kubectl, polled every
 * 250 ms). Each leg holds the stuck pods HOLD seconds (default 30) before the fix, so the
 * back-off has grown alike. Requests: what the command's Report counts (writes, diagnosis,
 * evictions, Events). Baseline, same node, same run: one fresh pod with a valid secret, and 20.
 *
 *   npm run bench  (or: node .bench/stuck-pods.mjs after one npm run bench) [--json] [--hold 30]
 *
 * Prints the three times side by side; asserts nothing. Skipped (with the reason) where the
 * node cannot run.
 */
import { randomBytes } from "node:crypto";
import { nodeSupport, startNode, type BedNode } from "../test/bed/node";
import { startEsoWorld, type EsoWorld } from "../test/support/eso-chain";
import type { LooseJson } from "../test/support/loose-json";
import { apply, createNamespace, deployment, holdNodeTestLock, pods } from "../test/node/node-support";

const JSON_OUT = process.argv.includes("--json");
const holdAt = process.argv.indexOf("--hold");
const HOLD_S = holdAt > 0 ? Number(process.argv[holdAt + 1]) : 30;
const PODS = 20;
/** --trace: the pods' states every 2 s while a leg waits (where the time goes). */
const TRACE = process.argv.includes("--trace");
/** --only-restart: the baseline and the restart leg only (a quicker look). */
const ONLY_RESTART = process.argv.includes("--only-restart");
const log = (msg: string): void => void (JSON_OUT ? process.stderr : process.stdout).write(`${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** ms from `t0` until `count` pods of app=app in `ns` are all running (and none else). */
async function untilRunning(world: EsoWorld, ns: string, count: number, t0: number, timeoutMs = 600_000): Promise<number> {
  let traced = 0;
  for (;;) {
    const now = await pods(world.bed, ns, "app");
    if (TRACE && performance.now() - traced > 2000) {
      traced = performance.now();
      const states: Record<string, number> = {};
      for (const p of now) states[p.state] = (states[p.state] ?? 0) + 1;
      const messages = [...new Set(now.map((p) => p.message.replace(/[0-9a-f]{12,}/g, "…")).filter(Boolean))].slice(0, 2);
      log(`    ${ns} +${Math.round(performance.now() - t0)} ms: ${JSON.stringify(states)} ${messages.join(" | ").slice(0, 400)}`);
    }
    if (now.length === count && now.every((p) => p.state === "running")) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`${ns}: not all running after ${timeoutMs} ms: ${JSON.stringify(now.map((p) => p.state))}`);
    await sleep(250);
  }
}

/** A fresh namespace with the product's pull secret (heal), valid for the node's current token. */
async function namespaceWithSecret(world: EsoWorld, ns: string): Promise<void> {
  await createNamespace(world.bed, ns);
  await world.applyFile("infra/k8s/pod-restart-rbac.yaml", ns);
  const r = await world.cli(["heal", "--cluster", world.bed.clusterName, "--namespace", ns, "--force"]);
  if (!r.ok) throw new Error(`heal of ${ns} failed: ${JSON.stringify(r.errors)}`);
}

/** Requests a Report counts for its clusters: writes, diagnosis, evictions, Events. */
function requestsOf(report: LooseJson): number {
  return (report.kubernetes?.clusters ?? []).reduce(
    (n: number, c: LooseJson) => n + (c.requests ?? 0) + (c.diagnosis?.requests ?? 0) + (c.podRestarts?.requests ?? 0) + (c.events?.requests ?? 0),
    0,
  );
}

/** One leg: the token changes, 20 new pods get stuck, HOLD s pass, then `fix` runs; ms to all Running and its requests. */
async function leg(world: EsoWorld, node: BedNode, ns: string, fix: () => Promise<LooseJson>): Promise<{ ms: number; commandMs: number; requests: number }> {
  await namespaceWithSecret(world, ns);
  const token = `bench-${randomBytes(12).toString("hex")}`;
  world.ecr.issue(token);
  await node.setToken(token);
  await apply(world.bed, deployment(ns, "app", node.image, { replicas: PODS, pullSecret: "ecr-pull-secret" }));
  for (;;) {
    const now = await pods(world.bed, ns, "app");
    if (now.length === PODS && now.every((p) => p.state === "ImagePullBackOff")) break;
    await sleep(500);
  }
  await sleep(HOLD_S * 1000);
  const t0 = performance.now();
  const report = await fix();
  const commandMs = Math.round(performance.now() - t0);
  if (!report.ok) throw new Error(`${ns}: the fix failed: ${JSON.stringify(report.errors)}`);
  const restarts = report.kubernetes?.clusters?.[0]?.podRestarts;
  if (restarts?.enabled && restarts.restarted !== PODS)
    throw new Error(`${ns}: ${restarts.restarted} of ${PODS} pods restarted: ${JSON.stringify(restarts.pods.slice(0, 2))}`);
  return { ms: Math.round(await untilRunning(world, ns, PODS, t0)), commandMs, requests: requestsOf(report) };
}

/** ms from applying a Deployment of `replicas` pods (valid secret) to all Running. */
async function fresh(world: EsoWorld, node: BedNode, ns: string, replicas: number): Promise<number> {
  await namespaceWithSecret(world, ns);
  const t0 = performance.now();
  await apply(world.bed, deployment(ns, "app", node.image, { replicas, pullSecret: "ecr-pull-secret" }));
  return Math.round(await untilRunning(world, ns, replicas, t0));
}

async function main(): Promise<void> {
  const support = nodeSupport();
  if (!support.ok) {
    log(`stuck pods: skipped — ${support.reason}`);
    process.stdout.write(`${JSON.stringify({ stuckPods: { skipped: support.reason } })}\n`);
    return;
  }
  const release = await holdNodeTestLock();
  log("stuck pods: starting the test bed, ESO and the real node...");
  const world = await startEsoWorld({ bed: { nodeAuth: true } });
  let node: BedNode | undefined;
  try {
    node = await startNode(world.bed, { token: await world.storedToken() });
    const n = node;
    const cluster = world.bed.clusterName;
    const baseline = { onePodMs: await fresh(world, n, "base-one", 1), podsMs: await fresh(world, n, "base-twenty", PODS) };
    log(`  baseline: one fresh pod (valid secret) Running in ${baseline.onePodMs} ms; ${PODS} fresh pods in ${baseline.podsMs} ms`);
    // The optional restart Role, bound in the namespace it restarts in (infra/k8s/pod-restart-rbac.yaml).
    const restart = await leg(world, n, "leg-restart", () =>
      world.cli(["heal", "--cluster", cluster, "--namespace", "leg-restart", "--force", "--restart-pods"], { RESTART_STUCK_PODS: "true" }),
    );
    log(`  heal with restart:    ${restart.ms} ms to ${PODS} pods Running (the command ${restart.commandMs} ms, ${restart.requests} requests)`);
    if (ONLY_RESTART) return;
    const noRestart = await leg(world, n, "leg-heal", () => world.cli(["heal", "--cluster", cluster, "--namespace", "leg-heal", "--force"]));
    log(`  heal without restart: ${noRestart.ms} ms (the command ${noRestart.commandMs} ms, ${noRestart.requests} requests)`);
    const backoff = await leg(world, n, "leg-rotate", () => world.cli(["rotate", "--force"], { FALLBACK_MODE: "always", TARGET_NAMESPACES: "*" }));
    log(`  rotation alone:       ${backoff.ms} ms (the command ${backoff.commandMs} ms, ${backoff.requests} requests; the kubelet's back-off decides)`);
    const result = {
      pods: PODS,
      holdSeconds: HOLD_S,
      restartMs: restart.ms,
      noRestartMs: noRestart.ms,
      backoffMs: backoff.ms,
      requests: { restart: restart.requests, noRestart: noRestart.requests, rotate: backoff.requests },
      commandMs: { restart: restart.commandMs, noRestart: noRestart.commandMs, rotate: backoff.commandMs },
      baseline: { ...baseline, what: `one fresh pod, and ${PODS} fresh pods, with a valid pull secret, to Running` },
      nodeStartMs: n.startMs,
    };
    log(
      `stuck pods (${PODS}, held ${HOLD_S} s): restart ${result.restartMs} ms (${(result.restartMs / baseline.podsMs).toFixed(1)} × ${PODS} fresh pods) | heal ${result.noRestartMs} ms (${(result.noRestartMs / baseline.podsMs).toFixed(1)} ×) | rotation alone ${result.backoffMs} ms (${(result.backoffMs / baseline.podsMs).toFixed(1)} ×); baseline one pod ${baseline.onePodMs} ms, ${PODS} pods ${baseline.podsMs} ms; target restart < 30,000 ms`,
    );
    process.stdout.write(`${JSON.stringify({ stuckPods: result })}\n`);
  } finally {
    await node?.stop();
    await world.stop();
    release();
  }
}

await main();
