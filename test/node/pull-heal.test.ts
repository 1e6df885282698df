/**
 * The mission on a real node, nothing faked: the product's CLI against moto (Secrets Manager,
 * ECR through a token proxy), the real External Secrets Operator with the shipped
 * ClusterSecretStore + ExternalSecret, the real kubelet pulling through containerd from the bed's
 * registry under the ECR host name (it accepts only the current token).
 *   - the seed's path: rotate → Secrets Manager → ESO → pull Secret → a Deployment's pod runs;
 *   - expiry: the registry moves to a new token, new pods fail with the kubelet's own
 *     ImagePullBackOff, the heal updates the pull Secrets in place (same UID) — one written by the
 *     product, one owned by ESO (re-synced) — and the stuck pods run without being deleted;
 *   - the default-ServiceAccount trap: a pod admitted before its ServiceAccount named the pull
 *     secret never gets it; a replacement pod does.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Bed } from "../bed/index";
import { startNode, type BedNode } from "../bed/node";
import { getJson, getSecret, passwordFor, startEsoWorld, type EsoWorld } from "../support/eso-chain";
import { apply, createNamespace, deployment, holdNodeTestLock, NODE_SUPPORT, podEvents, pods, waitPods } from "./node-support";
import type { LooseJson } from "../support/loose-json";

let world: EsoWorld;
let bed: Bed;
let node: BedNode;
let releaseLock: (() => void) | undefined;
const ESO_RESYNC = { ESO_RESYNC: "ecr-token-rotator/resync=true" };

describe.skipIf(!NODE_SUPPORT.ok)("pods on a real node pull with what the product wrote, and run again after a heal", { timeout: 600_000 }, () => {
  beforeAll(async () => {
    releaseLock = await holdNodeTestLock();
    world = await startEsoWorld({ bed: { nodeAuth: true } });
    bed = world.bed;
    try {
      // The registry accepts the token moto's ECR issued, which the first rotation stored.
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

  it("the seed's path: rotate → Secrets Manager → ESO (shipped manifests) → pull Secret → the Deployment's pod pulls and runs", async () => {
    const ns = "team-seed";
    await createNamespace(bed, ns);
    await world.applyFile("infra/k8s/external-secret.yaml", ns);
    const secret = await world.esoSecret(ns, "ecr-pull-secret");
    expect(secret.ownerKinds).toEqual(["ExternalSecret"]);
    expect(passwordFor(secret.data[".dockerconfigjson"], node.registryHost)).toBe(node.token());
    await apply(bed, deployment(ns, "app", node.image, { pullSecret: "ecr-pull-secret" }));
    const [pod] = await waitPods(bed, { ns, count: 1, what: "the pod running" }, (p) => p.state === "running");
    const pulled = (await podEvents(bed, ns)).filter((e) => e.pod === pod!.name && e.reason === "Pulled");
    expect(pulled.map((e) => e.message).join("\n")).toContain(`Successfully pulled image "${node.image}"`);
  });

  it("expiry: a new token leaves new pods in the kubelet's ImagePullBackOff; the heal fixes both pull Secrets in place and the stuck pods run, not deleted", async () => {
    const managed = "team-managed";
    const eso = "team-eso";
    await createNamespace(bed, managed);
    await createNamespace(bed, eso);
    await world.applyFile("infra/k8s/external-secret.yaml", eso);
    await world.esoSecret(eso, "ecr-pull-secret");
    // The product writes the pull Secret where ESO does not own one.
    const first = await world.cli(["heal", "--cluster", bed.clusterName, "--namespace", managed]);
    expect(first.ok).toBe(true);
    const managedBefore = await getSecret(bed, managed, "ecr-pull-secret");
    expect(managedBefore?.ownerKinds).toEqual([]);
    const esoBefore = await getSecret(bed, eso, "ecr-pull-secret");
    expect(esoBefore?.ownerKinds).toEqual(["ExternalSecret"]);
    for (const ns of [managed, eso]) {
      await apply(bed, deployment(ns, "app", node.image, { pullSecret: "ecr-pull-secret" }));
      await waitPods(bed, { ns, count: 1, what: "the first pod running" }, (p) => p.state === "running");
    }

    // The token expires: ECR issues a new one and the registry accepts only that.
    const newToken = `expired-then-${randomBytes(12).toString("hex")}`;
    world.ecr.issue(newToken);
    await node.setToken(newToken);
    // New pods must pull (imagePullPolicy Always): they fail with the kubelet's own messages.
    for (const ns of [managed, eso]) await bed.kubectl(["-n", ns, "scale", "deployment/app", "--replicas=2"], { check: true });
    const stuck = new Map<string, string>();
    for (const ns of [managed, eso]) {
      const all = await waitPods(
        bed,
        { ns, count: 2, what: "a pod in ImagePullBackOff", timeoutMs: 120_000 },
        (p) => p.state === "running" || p.state === "ImagePullBackOff",
      );
      const backoff = all.filter((p) => p.state === "ImagePullBackOff");
      expect(backoff).toHaveLength(1);
      expect(backoff[0]!.message).toContain("401 Unauthorized");
      stuck.set(ns, backoff[0]!.uid);
      const failed = (await podEvents(bed, ns)).filter((e) => e.pod === backoff[0]!.name && e.reason === "Failed").map((e) => e.message);
      expect(failed.join("\n")).toMatch(/failed to pull and unpack image .*401 Unauthorized/);
    }

    // The alarm-triggered heal: new token from ECR, the product's Secret updated, ESO re-synced.
    const healStart = performance.now();
    const healed = await world.cli(["heal", "--cluster", bed.clusterName, "--force"], ESO_RESYNC);
    const healDone = performance.now();
    expect(healed.ok).toBe(true);
    expect(healed.kubernetes.clusters[0].externalSecrets.resynced).toEqual(expect.arrayContaining([`${eso}/ecr-pull-secret`]));
    for (const ns of [managed, eso]) {
      await waitPods(bed, { ns, count: 2, what: "both pods running after the heal", timeoutMs: 360_000 }, (p) => p.state === "running");
      const now = await pods(bed, ns, "app");
      // The stuck pod itself runs: nothing deleted or replaced it.
      expect(now.map((p) => p.uid)).toContain(stuck.get(ns));
    }
    const runningAt = performance.now();
    const managedAfter = await getSecret(bed, managed, "ecr-pull-secret");
    const esoAfter = await getSecret(bed, eso, "ecr-pull-secret");
    expect(managedAfter?.uid).toBe(managedBefore?.uid);
    expect(esoAfter?.uid).toBe(esoBefore?.uid);
    expect(passwordFor(managedAfter?.data[".dockerconfigjson"], node.registryHost)).toBe(newToken);
    expect(passwordFor(esoAfter?.data[".dockerconfigjson"], node.registryHost)).toBe(newToken);
    process.stdout.write(
      `node: heal took ${Math.round(healDone - healStart)} ms; from heal start to every stuck pod Running: ${Math.round(runningAt - healStart)} ms (kubelet back-off decides)\n`,
    );
  });

  it("a pull secret created after the pod: the kubelet reads the pod's imagePullSecrets at every pull, so the heal's Secret fixes that pod in place", async () => {
    const ns = "team-late-secret";
    await createNamespace(bed, ns);
    await apply(bed, deployment(ns, "app", node.image, { pullSecret: "ecr-pull-secret" }));
    const [pod] = await waitPods(bed, { ns, count: 1, what: "the pod in ImagePullBackOff" }, (p) => p.state === "ImagePullBackOff");
    const events = await podEvents(bed, ns);
    expect(events.filter((e) => e.pod === pod!.name).map((e) => `${e.reason}: ${e.message}`)).toContain(
      "FailedToRetrieveImagePullSecret: Unable to retrieve some image pull secrets (ecr-pull-secret); attempting to pull the image may not succeed.",
    );
    const healed = await world.cli(["heal", "--cluster", bed.clusterName, "--namespace", ns]);
    expect(healed.ok).toBe(true);
    expect(await getSecret(bed, ns, "ecr-pull-secret")).toBeDefined();
    const [running] = await waitPods(bed, { ns, count: 1, what: "the same pod running after the heal", timeoutMs: 360_000 }, (p) => p.state === "running");
    expect(running!.uid).toBe(pod!.uid);
  });

  it("the default-ServiceAccount trap: a pod admitted before its ServiceAccount named the pull secret stays stuck after the heal; its replacement runs", async () => {
    const ns = "team-trap";
    await createNamespace(bed, ns);
    await apply(bed, deployment(ns, "app", node.image));
    const [pod] = await waitPods(bed, { ns, count: 1, what: "the pod failing to pull" }, (p) => p.state === "ImagePullBackOff" || p.state === "ErrImagePull");
    const admitted = await getJson(bed, ["-n", ns, "get", "pod", pod!.name]);
    expect(admitted.spec.imagePullSecrets).toBeUndefined();

    // The heal writes the Secret and patches the default ServiceAccount…
    const healed = await world.cli(["heal", "--cluster", bed.clusterName, "--namespace", ns, "--force"], { PATCH_SERVICE_ACCOUNTS: "default" });
    expect(healed.ok).toBe(true);
    const healedAt = Date.now();
    const sa = await getJson(bed, ["-n", ns, "get", "serviceaccount", "default"]);
    expect(sa.imagePullSecrets).toEqual([{ name: "ecr-pull-secret" }]);
    // …but the pod copied imagePullSecrets at admission: its next pull (after the heal) fails too.
    const deadline = Date.now() + 360_000;
    for (;;) {
      const ev = await bed.kubectl(["-n", ns, "get", "events", "-o", "json"], { check: true });
      const retried = (JSON.parse(ev.stdout).items as LooseJson[]).some(
        (e) =>
          e.involvedObject?.name === pod!.name &&
          e.reason === "Failed" &&
          /401 Unauthorized/.test(e.message) &&
          Date.parse(e.lastTimestamp ?? e.eventTime) > healedAt + 1000,
      );
      if (retried) break;
      if (Date.now() > deadline) throw new Error("the kubelet never retried the pull after the heal");
      await new Promise((r) => setTimeout(r, 500));
    }
    const still = (await pods(bed, ns, "app")).find((p) => p.uid === pod!.uid);
    expect(still?.state).not.toBe("running");
    expect((await getJson(bed, ["-n", ns, "get", "pod", pod!.name])).spec.imagePullSecrets).toBeUndefined();

    // A replacement pod is admitted with the patched ServiceAccount's secret, and runs.
    await bed.kubectl(["-n", ns, "delete", "pod", pod!.name, "--wait=false"], { check: true });
    const [replacement] = await waitPods(bed, { ns, count: 1, what: "the replacement pod running" }, (p) => p.uid !== pod!.uid && p.state === "running");
    const replaced = await getJson(bed, ["-n", ns, "get", "pod", replacement!.name]);
    expect(replaced.spec.imagePullSecrets).toEqual([{ name: "ecr-pull-secret" }]);
  });
});
