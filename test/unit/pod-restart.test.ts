/**
 * The optional restart of stuck pods (src/kube/restart.ts): which pods (pure), what an
 * eviction's answer means, the request narrowing the configuration, and a heal with the
 * in-memory API that evicts exactly those pods.
 */
import { describe, expect, it } from "vitest";
import { createKubernetesStep } from "../../src/clusters/step";
import { loadConfig } from "../../src/config/config";
import { parseRegistryHost } from "../../src/formats/registry-host";
import { decideRestarts, evictionOutcome, restartCase } from "../../src/kube/restart";
import { KubeApiError, type KubePod } from "../../src/kube/types";
import { restartDecision } from "../../src/request/restart-request";
import { parseManualRequest } from "../../src/request/triggers";
import type { StuckContainerReport } from "../../src/report/report";
import { FakeKubeApi } from "../support/kube-fake-api";

const HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const rs = { kind: "ReplicaSet", name: "app-1" };

function row(namespace: string, pod: string, o: Partial<StuckContainerReport> = {}): StuckContainerReport {
  return {
    namespace,
    pod,
    container: "app",
    image: `${HOST}/app:1`,
    reason: "ImagePullBackOff",
    podUid: `uid-${pod}`,
    controller: rs,
    causes: [{ code: "unknown", message: "looks right", hint: "wait" }],
    ...o,
  };
}
const policy = { enabled: true, dryRun: false, max: 20, refreshed: new Set(["a"]) };

describe("which stuck pods a heal restarts", () => {
  it("back-off: every cause 'unknown' (the secret looks right) where this heal refreshed the pull secret", () => {
    expect(restartCase(row("a", "p"), policy.refreshed)).toBe("back-off");
    expect(restartCase(row("b", "p"), policy.refreshed)).toBeUndefined();
  });

  it("back-off: the kubelet's last 401 (the old password) where this heal refreshed the pull secret", () => {
    const refused = row("a", "p", { causes: [{ code: "registry-refused-credential", message: "refused (401)", hint: "run heal" }] });
    expect(restartCase(refused, policy.refreshed)).toBe("back-off");
    expect(restartCase({ ...refused, namespace: "b" }, policy.refreshed)).toBeUndefined();
  });

  it("admission: the ServiceAccount has the pull secret now, the pod copied none at admission", () => {
    const trap = row("b", "p", { causes: [{ code: "default-service-account-trap", message: "m", hint: "h", recreate: true }] });
    expect(restartCase(trap, policy.refreshed)).toBe("admission");
    const notYet = row("b", "p", { causes: [{ code: "default-service-account-trap", message: "m", hint: "h" }] });
    expect(restartCase(notYet, policy.refreshed)).toBeUndefined();
  });

  it("not a credential cause, or one the heal did not resolve: never restarted", () => {
    for (const code of ["not-a-credential-problem", "registry-permission-denied", "token-expired", "pull-secret-not-found", "wrong-region"] as const) {
      expect(decideRestarts([row("a", "p", { causes: [{ code, message: "m", hint: "h" }] })], policy)).toEqual([]);
    }
  });

  it("a pod with one container a restart fixes and one it does not is left alone", () => {
    const other = row("a", "p", { container: "side", causes: [{ code: "not-a-credential-problem", message: "m", hint: "h" }] });
    expect(decideRestarts([row("a", "p"), other], policy)).toEqual([]);
  });

  it("only pods a controller replaces: a bare pod or one owned by something else is 'not-owned'", () => {
    const rows = decideRestarts(
      [row("a", "bare", { controller: undefined }), row("a", "node", { controller: { kind: "Node", name: "n" } }), row("a", "rs")],
      policy,
    );
    expect(rows.map((r) => [r.pod, r.outcome])).toEqual([
      ["bare", "not-owned"],
      ["node", "not-owned"],
      ["rs", "restarted"],
    ]);
    expect(rows[0]!.reason).toMatch(/no controller owns it/);
  });

  it("bounded: beyond RESTART_MAX_PODS the pods are 'over-limit'; restarts off: 'needs-restart' with why; dry run: 'would-restart'", () => {
    const rows = ["p1", "p2", "p3"].map((p) => row("a", p));
    expect(decideRestarts(rows, { ...policy, max: 2 }).map((r) => r.outcome)).toEqual(["restarted", "restarted", "over-limit"]);
    const off = decideRestarts(rows, { ...policy, enabled: false });
    expect(off.map((r) => r.outcome)).toEqual(["needs-restart", "needs-restart", "needs-restart"]);
    expect(off[0]!.reason).toMatch(/back-off expires \(up to 5 min\)/);
    expect(decideRestarts(rows, { ...policy, dryRun: true }).map((r) => r.outcome)).toEqual(["would-restart", "would-restart", "would-restart"]);
  });
});

describe("what an eviction's answer means", () => {
  it("2xx restarted; 429 refused (a PodDisruptionBudget); 404/409 gone; 403 failed with the RBAC file to apply", () => {
    expect(evictionOutcome(undefined).outcome).toBe("restarted");
    const pdb = evictionOutcome(new KubeApiError(429, "Cannot evict pod as it would violate the pod's disruption budget.", { reason: "TooManyRequests" }));
    expect(pdb).toEqual({ outcome: "refused", detail: expect.stringMatching(/PodDisruptionBudget refused .*disruption budget/) });
    expect(evictionOutcome(new KubeApiError(404, "not found")).outcome).toBe("gone");
    expect(evictionOutcome(new KubeApiError(409, "Precondition failed: UID")).outcome).toBe("gone");
    const denied = evictionOutcome(new KubeApiError(403, "forbidden"), "team-a");
    expect(denied.outcome).toBe("failed");
    expect(denied.detail).toMatch(/pod-restart-rbac\.yaml/);
  });
});

describe("a request narrows what the configuration allows, never widens it", () => {
  it("asks without RESTART_STUCK_PODS: refused; 'not this time' turns it off; absent: as configured", () => {
    expect(restartDecision(false, true)).toEqual({ refused: expect.stringMatching(/RESTART_STUCK_PODS=true/) });
    expect(restartDecision(true, false)).toEqual({ enabled: false });
    expect(restartDecision(true, undefined)).toEqual({ enabled: true });
    expect(restartDecision(false, undefined)).toEqual({ enabled: false });
  });
});

describe("a heal with RESTART_STUCK_PODS=true (in-memory API)", () => {
  const credentials = [
    {
      registry: parseRegistryHost(HOST),
      username: "AWS",
      password: "new-password",
      expiresAt: new Date(Date.now() + 3600_000),
      proxyEndpoint: `https://${HOST}`,
    },
  ];
  const access = async () => ({ server: "https://127.0.0.1:1", caData: "", token: "t" });
  const stuck = (namespace: string, name: string, owner?: { kind: string; name: string }): KubePod => ({
    metadata: { name, namespace, uid: `uid-${name}`, ...(owner ? { ownerReferences: [{ ...owner, controller: true }] } : {}) },
    spec: { imagePullSecrets: [{ name: "ecr-pull-secret" }], containers: [{ name: "app", image: `${HOST}/app:1` }] },
    status: { phase: "Pending", containerStatuses: [{ name: "app", state: { waiting: { reason: "ImagePullBackOff", message: "Back-off pulling image" } } }] },
  });
  const world = () => {
    const api = new FakeKubeApi();
    api.addNamespace("team-a");
    api.putPod(stuck("team-a", "web-1", rs));
    api.putPod(stuck("team-a", "guarded", rs));
    api.putPod(stuck("team-a", "bare"));
    api.disruptionBudget.add("team-a/guarded");
    return api;
  };
  const heal = (api: FakeKubeApi, env: Record<string, string>, request: Record<string, unknown> = {}) =>
    createKubernetesStep(loadConfig({ AWS_REGION: "us-east-1", ECR_REGISTRIES: HOST, EKS_CLUSTERS: "prod", TARGET_NAMESPACES: "team-a", ...env }), {
      access,
      apply: { api },
      diagnose: { api },
    })({ request: parseManualRequest({ action: "heal", ...request }), credentials, reason: "heal" });

  it("evicts the controller-owned pods whose pull secret it just wrote (with their UID), reports a PDB refusal, leaves the bare pod", async () => {
    const api = world();
    const report = await heal(api, { RESTART_STUCK_PODS: "true", RECORD_EVENTS: "false" });
    const r = report.clusters[0]!.podRestarts!;
    expect(r.pods.map((p) => [p.pod, p.outcome])).toEqual([
      ["bare", "not-owned"],
      ["guarded", "refused"],
      ["web-1", "restarted"],
    ]);
    expect(r).toMatchObject({ enabled: true, restarted: 1, refused: 1, requests: 2 });
    expect(api.evicted).toEqual(["team-a/web-1"]);
    expect(api.podActionCalls.find((c) => c.name === "web-1")?.body).toEqual({ uid: "uid-web-1" });
  });

  it("an eviction the cluster forbids (no restart Role bound) fails the run, and says which file grants it", async () => {
    const api = world();
    api.faults.push((c) => (c.method === "evictPod" ? new KubeApiError(403, "forbidden", { reason: "Forbidden" }) : undefined));
    const cluster = (await heal(api, { RESTART_STUCK_PODS: "true", RECORD_EVENTS: "false" })).clusters[0]!;
    expect(cluster.ok).toBe(false);
    expect(cluster.error).toMatch(/pod restart\(s\) failed/);
    expect(cluster.podRestarts!.pods.find((p) => p.pod === "web-1")).toMatchObject({
      outcome: "failed",
      reason: expect.stringMatching(/pod-restart-rbac\.yaml/),
    });
  });

  it("off by default: nothing evicted, the Report says which pods need a restart and why", async () => {
    const api = world();
    const report = await heal(api, { RECORD_EVENTS: "false" });
    expect(api.podActionCalls).toEqual([]);
    const r = report.clusters[0]!.podRestarts!;
    expect(r.enabled).toBe(false);
    expect(r.pods.filter((p) => p.outcome === "needs-restart").map((p) => p.pod)).toEqual(["guarded", "web-1"]);
  });

  it("dry run lists what it would restart and evicts nothing; restartPods: false narrows it off", async () => {
    const dry = world();
    const report = await heal(dry, { RESTART_STUCK_PODS: "true", RECORD_EVENTS: "false" }, { dryRun: true });
    expect(report.clusters[0]!.podRestarts!.pods.filter((p) => p.outcome === "would-restart").map((p) => p.pod)).toEqual(["guarded", "web-1"]);
    expect(dry.podActionCalls).toEqual([]);
    const narrowed = world();
    await heal(narrowed, { RESTART_STUCK_PODS: "true", RECORD_EVENTS: "false" }, { restartPods: false });
    expect(narrowed.evicted).toEqual([]);
  });
});
