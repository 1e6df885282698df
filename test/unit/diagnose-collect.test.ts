/**
 * Collection against the in-memory KubeApi, the diagnose action end to end through runRequest,
 * heal's trailing diagnosis, and the proof that no secret material leaves a diagnosis.
 */
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app";
import { diagnoseCluster, reduceSecret, stuckContainersOf } from "../../src/diagnose/collect";
import { formatReport } from "../../src/report/report";
import { runRequest } from "../../src/run/run";
import { parseManualRequest } from "../../src/request/triggers";
import type { KubePod, KubeSecret } from "../../src/kube/types";
import { FakeKubeApi } from "../support/kube-fake-api";
import { emptySecrets, memoryEcr } from "../support/aws-fakes";
import { HOST_USE1, NOW } from "../support/fixtures";

/** A real-shaped ECR password: base64 of the DATA_KEY envelope, with a distinctive payload. */
function ecrPassword(expiration: Date, payload = "DISTINCTIVE-PAYLOAD-9b1e4c"): string {
  return Buffer.from(
    JSON.stringify({ payload, datakey: "DATAKEY-77aa", version: "2", type: "DATA_KEY", expiration: Math.floor(expiration.getTime() / 1000) }),
  ).toString("base64");
}
const dockerSecret = (namespace: string, name: string, auths: Record<string, { password: string }>, type = "kubernetes.io/dockerconfigjson"): KubeSecret => {
  const config = {
    auths: Object.fromEntries(
      Object.entries(auths).map(([h, { password }]) => [h, { username: "AWS", password, auth: Buffer.from(`AWS:${password}`).toString("base64") }]),
    ),
  };
  const key = type === "kubernetes.io/dockercfg" ? ".dockercfg" : ".dockerconfigjson";
  return {
    metadata: { name, namespace },
    type,
    data: { [key]: Buffer.from(JSON.stringify(type === "kubernetes.io/dockercfg" ? config.auths : config)).toString("base64") },
  };
};
const pod = (
  namespace: string,
  name: string,
  opts: { image?: string; sa?: string; pullSecrets?: string[]; reason?: string; message?: string; init?: boolean; phase?: string } = {},
): KubePod => {
  const image = opts.image ?? `${HOST_USE1}/team/app:1`;
  const status = {
    name: "app",
    image,
    state: { waiting: { reason: opts.reason ?? "ImagePullBackOff", message: opts.message ?? `Back-off pulling image "${image}"` } },
  };
  return {
    metadata: { name, namespace, uid: `uid-${name}` },
    spec: {
      ...(opts.sa ? { serviceAccountName: opts.sa } : {}),
      ...(opts.pullSecrets ? { imagePullSecrets: opts.pullSecrets.map((n) => ({ name: n })) } : {}),
      [opts.init ? "initContainers" : "containers"]: [{ name: "app", image }],
    },
    status: { phase: opts.phase ?? "Pending", [opts.init ? "initContainerStatuses" : "containerStatuses"]: [status] },
  };
};

const expired = new Date(NOW.getTime() - 2 * 3600_000);
const fresh = new Date(NOW.getTime() + 6 * 3600_000);

function cluster(): FakeKubeApi {
  const api = new FakeKubeApi();
  for (const ns of ["team-a", "team-b", "kube-system", "excluded"]) api.addNamespace(ns);
  api.putServiceAccount({ metadata: { name: "default", namespace: "team-a" }, imagePullSecrets: [{ name: "ecr-pull-secret" }] });
  const managed = dockerSecret("team-a", "ecr-pull-secret", { [HOST_USE1]: { password: ecrPassword(expired) } });
  managed.metadata.labels = { "app.kubernetes.io/managed-by": "ecr-token-rotator" };
  api.putSecret(managed);
  api.putSecret(dockerSecret("team-b", "ecr-pull-secret", { [HOST_USE1]: { password: ecrPassword(fresh) } }));
  api.putSecret({ metadata: { name: "opaque", namespace: "team-b" }, type: "Opaque", data: { token: Buffer.from("x").toString("base64") } });
  api.putSecret(dockerSecret("team-b", "ghcr", { "ghcr.io": { password: "ghp_DISTINCTIVEpat" } }));
  api.putPod(pod("team-a", "trap", {}));
  api.putPod(pod("team-a", "expired", { pullSecrets: ["ecr-pull-secret"] }));
  api.putPod(pod("team-b", "missing", { pullSecrets: ["nope"], init: true }));
  api.putPod(pod("team-b", "opaque", { pullSecrets: ["opaque"] }));
  api.putPod(pod("team-b", "mismatch", { pullSecrets: ["ghcr"] }));
  api.putPod(pod("team-b", "notfound", { pullSecrets: ["ecr-pull-secret"], reason: "ErrImagePull", message: "rpc error: manifest unknown" }));
  api.putPod(pod("team-b", "healthy", { pullSecrets: ["ecr-pull-secret"], reason: "ContainerCreating" }));
  api.putPod(pod("kube-system", "sys", {}));
  api.putPod(pod("excluded", "x", {}));
  api.putEvent({
    metadata: { name: "e1", namespace: "team-b" },
    involvedObject: { kind: "Pod", namespace: "team-b", name: "mismatch" },
    reason: "Failed",
    message: "Failed to pull image: 401 Unauthorized",
    lastTimestamp: "2026-11-24T07:59:00Z",
  });
  return api;
}

const target = { namespaces: { mode: "all" as const, exclude: ["excluded"] }, configuredHosts: [HOST_USE1], pullSecretName: "ecr-pull-secret" };

describe("diagnoseCluster (in-memory API)", () => {
  it("finds every stuck container in scope and classifies each; reads only what it needs", async () => {
    const api = cluster();
    const d = await diagnoseCluster(target, { api, now: () => NOW, pageSize: 2 });
    const byPod = Object.fromEntries(d.stuck.map((s) => [`${s.namespace}/${s.pod}`, s.causes.map((c) => c.code)]));
    expect(byPod).toEqual({
      "team-a/trap": ["default-service-account-trap"],
      "team-a/expired": ["token-expired"],
      "team-b/missing": ["pull-secret-not-found"],
      "team-b/opaque": ["wrong-secret-type"],
      "team-b/mismatch": ["registry-host-mismatch"],
      "team-b/notfound": ["not-a-credential-problem"],
    });
    expect(d.podsScanned).toBe(7);
    expect(d.errors).toBeUndefined();
    // Only reads; one GET per distinct SA and Secret; events listed by field selector.
    expect(api.writes()).toEqual([]);
    expect(api.count("readSecret")).toBe(5);
    expect(api.count("readServiceAccount")).toBe(2);
    expect(api.calls.find((c) => c.method === "listEvents")!.options!.fieldSelector).toBe("involvedObject.kind=Pod,reason=Failed");
    expect(api.calls.find((c) => c.method === "listPods")!.options!.fieldSelector).toBe("status.phase!=Succeeded,status.phase!=Failed");
    expect(api.count("listPods")).toBe(5); // paginated, page size 2
  });

  it("a namespace list limits the scope; no stuck pod means no further reads", async () => {
    const api = cluster();
    const d = await diagnoseCluster({ ...target, namespaces: { mode: "list", names: ["kube-system"] } }, { api, now: () => NOW });
    expect(d.stuck.map((s) => s.pod)).toEqual(["sys"]);
    const empty = new FakeKubeApi().addNamespace("quiet");
    const none = await diagnoseCluster(target, { api: empty, now: () => NOW });
    expect(none).toMatchObject({ podsScanned: 0, stuck: [] });
    expect(empty.count("listEvents") + empty.count("readSecret")).toBe(0);
  });

  it("maxStuck bounds the work and counts the rest", async () => {
    const d = await diagnoseCluster(target, { api: cluster(), now: () => NOW, maxStuck: 2 });
    expect(d.stuck).toHaveLength(2);
    expect(d.truncated).toBe(4);
  });

  it("a Secret that cannot be read is reported, not guessed", async () => {
    const api = cluster();
    api.faults.push((c) => (c.method === "readSecret" && c.name === "opaque" ? Object.assign(new Error("x"), {}) : undefined));
    const d = await diagnoseCluster(target, { api, now: () => NOW, retry: { maxAttempts: 1 } });
    expect(d.stuck.find((s) => s.pod === "opaque")!.causes[0]!.code).toBe("unknown");
    expect(d.errors!.join()).toMatch(/team-b\/opaque could not be read/);
  });

  it("reduceSecret keeps hosts, user names and expiry only; dockercfg is read too", () => {
    const pw = ecrPassword(expired);
    const reduced = reduceSecret("s", dockerSecret("ns", "s", { [HOST_USE1]: { password: pw } }, "kubernetes.io/dockercfg"));
    expect(reduced).toEqual({
      name: "s",
      exists: true,
      type: "kubernetes.io/dockercfg",
      entries: [{ key: HOST_USE1, username: "AWS", expiresAt: new Date(Math.floor(expired.getTime() / 1000) * 1000) }],
    });
    expect(JSON.stringify(reduced)).not.toContain(pw);
    expect(
      reduceSecret("s", {
        metadata: { name: "s" },
        type: "kubernetes.io/dockerconfigjson",
        data: { ".dockerconfigjson": Buffer.from(`{"auths": ${pw}`).toString("base64") },
      }).invalid,
    ).toBe("the docker config is not valid JSON");
    expect(reduceSecret("s", undefined)).toEqual({ name: "s", exists: false, entries: [] });
  });

  it("stuckContainersOf ignores containers waiting for other reasons", () => {
    expect(stuckContainersOf(pod("a", "b", { reason: "CrashLoopBackOff" }))).toEqual([]);
    expect(stuckContainersOf(pod("a", "b", { reason: "InvalidImageName", init: true }))).toHaveLength(1);
  });
});

function harness(env: Record<string, string> = {}) {
  const api = cluster();
  const bearer = "k8s-aws-v1.DISTINCTIVE-BEARER-aHR0cHM6Ly9zdHMuYW1hem9uYXdzLmNvbS8_QWN0aW9uPUdldENhbGxlcklkZW50aXR5";
  const secretWrites: string[] = [];
  const ecr = memoryEcr();
  const secrets = emptySecrets((_op, name) => void secretWrites.push(name));
  const app = createApp(
    { AWS_REGION: "us-east-1", ECR_REGISTRIES: HOST_USE1, EKS_CLUSTERS: "prod", EXCLUDE_NAMESPACES: "excluded", PATCH_SERVICE_ACCOUNTS: "", ...env },
    {
      kubernetes: {
        access: async () => ({ server: "https://kube.invalid", caData: "", token: bearer }),
        apply: { api, now: () => NOW },
        diagnose: { now: () => NOW },
      },
    },
  );
  const deps = { ...app.deps, ecr, secrets, now: () => NOW, tokenNow: () => NOW };
  return { api, bearer, app, deps, counts: () => ({ ecrCalls: ecr.calls(), secretWrites: secretWrites.length }) };
}

describe("the diagnose action", () => {
  it("is read-only: no ECR call, no Secrets Manager write, no Kubernetes write; the Report carries the diagnosis", async () => {
    const h = harness();
    const report = await runRequest(parseManualRequest({ action: "diagnose", namespaces: ["team-a", "team-b"] }), h.app.config, h.deps);
    expect(report.ok).toBe(true);
    expect(h.counts()).toEqual({ ecrCalls: 0, secretWrites: 0 });
    expect(h.api.writes()).toEqual([]);
    expect(report.kubernetes!.mode).toBe("diagnosed");
    const d = report.kubernetes!.clusters[0]!.diagnosis!;
    expect(d.stuck).toHaveLength(6);
    expect(d.stuck[0]).toMatchObject({ namespace: "team-a", pod: "expired", container: "app", image: `${HOST_USE1}/team/app:1`, reason: "ImagePullBackOff" });
    const text = formatReport(report);
    expect(text).toMatch(/NAMESPACE\/POD\s+IMAGE\s+CAUSE\s+HINT/);
    expect(text).toMatch(/team-a\/trap .*default-service-account-trap/);
    expect(text).not.toMatch(/CREATED/);
  });

  it("works with FALLBACK_MODE=off (it writes nothing anyway), and an unknown cluster is a bad request", async () => {
    const h = harness({ FALLBACK_MODE: "off" });
    expect((await runRequest(parseManualRequest({ action: "diagnose" }), h.app.config, h.deps)).kubernetes!.mode).toBe("diagnosed");
    await expect(runRequest(parseManualRequest({ action: "diagnose", clusters: ["nope"] }), h.app.config, h.deps)).rejects.toThrow(/not configured/);
  });

  it("without any cluster configured it is a bad request", async () => {
    const app = createApp({ AWS_REGION: "us-east-1" });
    await expect(runRequest(parseManualRequest({ action: "diagnose" }), app.config, app.deps)).rejects.toThrow(/needs a cluster/);
  });

  it("heal diagnoses after applying: what is still stuck and why the heal cannot fix it", async () => {
    const h = harness();
    const report = await runRequest(parseManualRequest({ action: "heal", namespaces: ["team-a", "team-b"] }), h.app.config, h.deps);
    const c = report.kubernetes!.clusters[0]!;
    expect(c.namespaces.length).toBeGreaterThan(0);
    const byPod = Object.fromEntries(c.diagnosis!.stuck.map((s) => [s.pod, s.causes[0]!.code]));
    // The heal refreshed team-a's pull secret: its token is no longer the cause (the pod waits
    // for the kubelet's next retry); the trap remains.
    expect(c.namespaces.find((n) => n.namespace === "team-a")!.outcome).toBe("updated");
    expect(byPod.expired).toBe("unknown");
    expect(c.diagnosis!.stuck.find((s) => s.pod === "expired")!.causes[0]!.hint).toMatch(/this heal just wrote ecr-pull-secret in team-a/);
    expect(byPod.trap).toBe("default-service-account-trap");
    expect(byPod.missing).toBe("pull-secret-not-found");
    // The diagnosis ran after the writes.
    const firstRead = h.api.calls.findIndex((x) => x.method === "listPods");
    const lastWrite = h.api.calls.map((x) => x.verb).lastIndexOf("patch");
    expect(firstRead).toBeGreaterThan(lastWrite);
  });

  it("secrets never leave: no password, auth value or bearer token in the Report, its JSON or its table", async () => {
    const h = harness();
    const needles = new Set<string>([h.bearer, "DISTINCTIVE-BEARER", "ghp_DISTINCTIVEpat", "DISTINCTIVE-PAYLOAD"]);
    for (const s of h.api.secrets.values()) {
      const raw = s.data?.[".dockerconfigjson"] ?? s.data?.[".dockercfg"];
      if (!raw) continue;
      const config = JSON.parse(Buffer.from(raw, "base64").toString());
      for (const entry of Object.values<{ password: string; auth: string }>(config.auths ?? config)) {
        needles.add(entry.password);
        needles.add(entry.auth);
      }
      needles.add(raw);
    }
    // The kubelet's message echoes the bearer token, on purpose.
    h.api.putPod(pod("team-b", "echo", { pullSecrets: ["ecr-pull-secret"], message: `401 Unauthorized: Authorization: Bearer ${h.bearer}` }));
    for (const action of ["diagnose", "heal"]) {
      const report = await runRequest(parseManualRequest({ action }), h.app.config, h.deps);
      expect(report.kubernetes!.clusters[0]!.diagnosis!.stuck.length).toBeGreaterThan(0);
      const outputs = [JSON.stringify(report), formatReport(report)];
      for (const out of outputs) for (const needle of needles) expect(out).not.toContain(needle);
    }
    expect(needles.size).toBeGreaterThanOrEqual(8);
  });
});
