/**
 * Stuck pods recovered, not just explained, on the real node: after a token change the heal
 * with RESTART_STUCK_PODS=true evicts the stuck pods its fix reached only on paper (kubelet
 * back-off), their ReplicaSet replaces them and the replacements run; a pod no controller owns
 * is not evicted; a running pod whose PodDisruptionBudget allows no disruption is refused, and
 * reported. And the answer where the engineer looks: `kubectl describe pod` shows the product's
 * Event, deduplicated across runs (one Event, its count raised).
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Bed } from "../bed/index";
import { startNode, type BedNode } from "../bed/node";
import { getJson, startEsoWorld, type EsoWorld } from "../support/eso-chain";
import type { LooseJson } from "../support/loose-json";
import { apply, createNamespace, deployment, holdNodeTestLock, NODE_SUPPORT, pods, waitPods } from "./node-support";

let world: EsoWorld;
let bed: Bed;
let node: BedNode;
let releaseLock: (() => void) | undefined;
const RESTART = { RESTART_STUCK_PODS: "true" };

/** A pod no controller owns, pulling the node's image with the pull secret. */
const barePod = (ns: string, image: string) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "bare", namespace: ns, labels: { app: "bare" } },
  spec: {
    imagePullSecrets: [{ name: "ecr-pull-secret" }],
    automountServiceAccountToken: false,
    terminationGracePeriodSeconds: 0,
    containers: [{ name: "app", image, imagePullPolicy: "Always" }],
  },
});

describe.skipIf(!NODE_SUPPORT.ok)("a heal restarts the stuck pods its fix cannot reach by itself, and says so on the pods", { timeout: 900_000 }, () => {
  beforeAll(async () => {
    releaseLock = await holdNodeTestLock();
    world = await startEsoWorld({ bed: { nodeAuth: true } });
    bed = world.bed;
    try {
      node = await startNode(bed, { token: await world.storedToken() });
    } catch (error) {
      await world.stop();
      throw error;
    }
  }, 1_600_000);

  afterAll(async () => {
    try {
      await node?.stop();
      await world?.stop();
    } finally {
      releaseLock?.();
    }
  });

  it("token change: stuck Deployment pods are evicted and replaced, and run; the bare pod is not evicted; a PDB refusal is reported", async () => {
    const ns = "team-restart";
    await createNamespace(bed, ns);
    await world.applyFile("infra/k8s/pod-restart-rbac.yaml", ns);
    expect((await world.cli(["heal", "--cluster", bed.clusterName, "--namespace", ns])).ok).toBe(true);
    // "guarded": one replica, a liveness probe that always fails (the kubelet restarts the
    // container, which must pull again), a budget that allows no disruption.
    const guarded = deployment(ns, "guarded", node.image, { pullSecret: "ecr-pull-secret" }) as LooseJson;
    guarded.spec.template.spec.containers[0].livenessProbe = { tcpSocket: { port: 1 }, initialDelaySeconds: 2, periodSeconds: 1, failureThreshold: 1 };
    await apply(bed, guarded);
    await apply(bed, {
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: { name: "guarded", namespace: ns },
      spec: { minAvailable: 1, selector: { matchLabels: { app: "guarded" } } },
    });
    await waitPods(bed, { ns, app: "guarded", count: 1, what: "guarded running" }, (p) => p.state === "running");

    // The token changes: new pods cannot pull.
    const newToken = `rotated-${randomBytes(12).toString("hex")}`;
    world.ecr.issue(newToken);
    await node.setToken(newToken);
    await apply(bed, deployment(ns, "app", node.image, { replicas: 3, pullSecret: "ecr-pull-secret" }));
    await apply(bed, barePod(ns, node.image));
    const stuck = await waitPods(bed, { ns, count: 3, what: "three pods in ImagePullBackOff" }, (p) => p.state === "ImagePullBackOff");
    const [bare] = await waitPods(bed, { ns, app: "bare", count: 1, what: "the bare pod stuck" }, (p) => p.state === "ImagePullBackOff");
    // guarded's container was restarted by its probe and cannot pull again: Running phase, a waiting container.
    const [held] = await waitPods(
      bed,
      { ns, app: "guarded", count: 1, what: "guarded stuck re-pulling" },
      (p) => p.state === "ImagePullBackOff" || p.state === "ErrImagePull",
    );
    expect(held!.phase).toBe("Running");

    const healed = await world.cli(["heal", "--cluster", bed.clusterName, "--namespace", ns, "--force", "--restart-pods"], RESTART);
    expect(healed.ok).toBe(true);
    const restarts = healed.kubernetes.clusters[0].podRestarts;
    const outcome = (pod: string) => restarts.pods.find((p: LooseJson) => p.pod === pod)?.outcome;
    for (const p of stuck) expect(outcome(p.name)).toBe("restarted");
    expect(outcome("bare")).toBe("not-owned");
    expect(outcome(held!.name)).toBe("refused");
    expect(restarts.pods.find((p: LooseJson) => p.pod === held!.name).reason).toMatch(/PodDisruptionBudget refused/);
    expect(restarts).toMatchObject({ enabled: true, restarted: 3, refused: 1 });

    // The replacements (new UIDs) run; the stuck pods are gone, the bare one is still there.
    const running = await waitPods(bed, { ns, count: 3, what: "three replacement pods running", timeoutMs: 120_000 }, (p) => p.state === "running");
    expect(running.map((p) => p.uid).filter((uid) => stuck.some((s) => s.uid === uid))).toEqual([]);
    expect((await pods(bed, ns, "bare")).map((p) => p.uid)).toEqual([bare!.uid]);
  });

  it("kubectl describe pod shows the product's Event (Warning, from ecr-token-rotator, the cause and the fix), one Event across two runs", async () => {
    const ns = "team-events";
    await createNamespace(bed, ns);
    await apply(bed, barePod(ns, node.image));
    const [pod] = await waitPods(
      bed,
      { ns, app: "bare", count: 1, what: "the pod stuck" },
      (p) => p.state === "ImagePullBackOff" || p.state === "ErrImagePull",
    );
    const first = await world.cli(["diagnose", "--cluster", bed.clusterName, "--namespace", ns]);
    expect(first.kubernetes.clusters[0].events).toMatchObject({ recorded: 1, repeated: 0, failed: 0 });
    const second = await world.cli(["diagnose", "--cluster", bed.clusterName, "--namespace", ns]);
    expect(second.kubernetes.clusters[0].events).toMatchObject({ recorded: 0, repeated: 1, failed: 0 });

    const ours = await getJson(bed, ["-n", ns, "get", "events", "--field-selector", `source=ecr-token-rotator,involvedObject.name=${pod!.name}`]);
    expect(ours.items).toHaveLength(1);
    expect(ours.items[0]).toMatchObject({ type: "Warning", reason: "EcrPullCredentials", count: 2, involvedObject: { kind: "Pod", uid: pod!.uid } });
    const described = await bed.kubectl(["-n", ns, "describe", "pod", pod!.name], { check: true });
    const line = described.stdout.split("\n").find((l) => l.includes("EcrPullCredentials"));
    process.stdout.write(`kubectl describe pod: ${line}\n`);
    expect(line).toMatch(/Warning\s+EcrPullCredentials\s+.*\(x2 over .*\)\s+ecr-token-rotator\s+pull-secret-not-found/);
    expect(described.stdout).toContain("Fix:");
    for (const secret of [node.token(), Buffer.from(`AWS:${node.token()}`).toString("base64")]) expect(described.stdout).not.toContain(secret);
  });
});
