/**
 * Collection against the in-memory KubeApi, the diagnose action end to end through runRequest,
 * heal's trailing diagnosis, and the proof that no secret material leaves a diagnosis.
 */
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app";
import { diagnoseCluster, reduceSecret, stuckContainersOf } from "../../src/diagnose/collect";
import { formatReport, type Report } from "../../src/report/report";
import { runRequest } from "../../src/run/run";
import { parseManualRequest } from "../../src/request/triggers";
import { KubeApiError, type KubePod, type KubeSecret } from "../../src/kube/types";
import { FakeKubeApi } from "../support/kube-fake-api";
import { emptySecrets, memoryEcr } from "../support/aws-fakes";
import { HOST_USE1, NOW } from "../support/fixtures";
import * as K from "../fixtures/kubelet-pull-errors";

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

/** A Report with nothing but what formatReport needs around a diagnosis. */
const baseReport = (): Report => ({
  ok: true,
  action: "diagnose",
  trigger: { via: "manual" } as Report["trigger"],
  dryRun: false,
  force: false,
  startedAt: NOW.toISOString(),
  durationMs: 1,
  ecrCalls: 0,
  registries: [],
  tokenSecondsRemaining: null,
  errors: [],
});

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
    // Only reads: one GET per distinct Secret; the ServiceAccounts of the one namespace whose
    // stuck pod has no imagePullSecrets (one LIST, no GET); one LIST by field selector for
    // the missing Secret's name; events listed by field selector.
    expect(api.writes()).toEqual([]);
    expect(api.count("readSecret")).toBe(5);
    expect(api.count("readServiceAccount")).toBe(0);
    expect(api.calls.filter((c) => c.method === "listNamespacedServiceAccounts").map((c) => c.namespace)).toEqual(["team-a"]);
    expect(api.calls.filter((c) => c.method === "listSecrets").map((c) => c.options!.fieldSelector)).toEqual(["metadata.name=nope"]);
    expect(d.summary).toEqual([
      { code: "default-service-account-trap", containers: 1, namespaces: ["team-a"] },
      { code: "not-a-credential-problem", containers: 1, namespaces: ["team-b"] },
      { code: "pull-secret-not-found", containers: 1, namespaces: ["team-b"] },
      { code: "registry-host-mismatch", containers: 1, namespaces: ["team-b"] },
      { code: "token-expired", containers: 1, namespaces: ["team-a"] },
      { code: "wrong-secret-type", containers: 1, namespaces: ["team-b"] },
    ]);
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

  it("maxStuck bounds the rows; the containers beyond it are still counted by cause", async () => {
    const full = await diagnoseCluster(target, { api: cluster(), now: () => NOW });
    const d = await diagnoseCluster(target, { api: cluster(), now: () => NOW, maxStuck: 2 });
    expect(d.stuck).toEqual(full.stuck.slice(0, 2));
    expect(d.truncated).toBe(4);
    expect(d.summary).toEqual(full.summary);
    expect(d.summary!.reduce((n, c) => n + c.containers, 0)).toBe(6);
    const text = formatReport({
      ...baseReport(),
      kubernetes: { mode: "diagnosed", clusters: [{ cluster: "c", region: "r", ok: true, namespaces: [], diagnosis: d }] },
    });
    expect(text).toMatch(/6 containers stuck pulling their images/);
    expect(text).toMatch(/1 × default-service-account-trap\s+in 1 namespace: team-a/);
    expect(text).toMatch(/… 4 more stuck container\(s\) beyond the per-run cap: counted by cause above, not listed/);
    expect(text.indexOf("× token-expired")).toBeLessThan(text.indexOf("NAMESPACE/POD"));
  });

  it("the pull error is the newest Failed event for that container that carries it (not `Error: …`, not another container's or an earlier pod's)", async () => {
    const api = new FakeKubeApi().addNamespace("pay");
    const image = `${HOST_USE1}/payments/payment-api:3.0.0`;
    const p = pod("pay", "api-1", { image, pullSecrets: ["ecr-pull-secret"] });
    p.spec!.containers!.push({ name: "sidecar", image: "busybox:1.36" });
    p.status!.containerStatuses!.push({
      name: "sidecar",
      image: "busybox:1.36",
      state: { waiting: { reason: "ImagePullBackOff", message: 'Back-off pulling image "busybox:1.36"' } },
    });
    api.putPod(p);
    api.putSecret(dockerSecret("pay", "ecr-pull-secret", { [HOST_USE1]: { password: ecrPassword(fresh) } }));
    const denial = K.failedToPull(image, K.ecrDeniedContainerd(image, "us-east-1", K.ACCOUNT, "payments/payment-api"));
    const event = (name: string, container: string, message: string, at: string, uid = "uid-api-1") =>
      api.putEvent({
        metadata: { name, namespace: "pay" },
        involvedObject: { kind: "Pod", namespace: "pay", name: "api-1", uid, fieldPath: `spec.containers{${container}}` },
        reason: "Failed",
        message,
        lastTimestamp: at,
      });
    event("a", "app", K.failedToPull(image, K.forbiddenHead(image, "us-east-1", K.ACCOUNT, "payments/payment-api", "3.0.0")), "2026-11-24T07:50:00Z");
    event("b", "app", denial, "2026-11-24T07:55:00Z");
    event("c", "app", "Error: ErrImagePull", "2026-11-24T07:55:00Z");
    event("d", "app", "Error: ImagePullBackOff", "2026-11-24T07:59:00Z");
    event("e", "sidecar", K.failedToPull("busybox:1.36", K.dockerHubRateLimit("busybox:1.36")), "2026-11-24T07:58:00Z");
    event("f", "app", K.failedToPull(image, K.tagNotFound(image)), "2026-11-24T07:59:30Z", "uid-of-an-earlier-pod");
    const d = await diagnoseCluster(target, { api, now: () => NOW });
    const app = d.stuck.find((s) => s.container === "app")!;
    expect(app.detail).toBe(denial);
    expect(app.causes.map((c) => c.code)).toEqual(["registry-permission-denied"]);
    expect(app.causes[0]!.message).toContain("on repository payments/payment-api");
    const sidecar = d.stuck.find((s) => s.container === "sidecar")!;
    expect(sidecar.causes.map((c) => c.code)).toEqual(["not-a-credential-problem"]);
    expect(sidecar.causes[0]!.message).toMatch(/rate limited: Docker Hub/);
    expect(d.summary).toEqual([
      { code: "not-a-credential-problem", containers: 1, namespaces: ["pay"] },
      { code: "registry-permission-denied", containers: 1, namespaces: ["pay"] },
    ]);
  });

  it("names the fix: the namespace's SA that carries the pull secret; the namespaces where a missing Secret exists", async () => {
    const api = new FakeKubeApi();
    for (const ns of ["shop", "pay", "tools"]) api.addNamespace(ns);
    api.putServiceAccount({ metadata: { name: "payment-api-sa", namespace: "pay" }, imagePullSecrets: [{ name: "ecr-pull-secret" }] });
    api.putSecret(dockerSecret("pay", "ecr-pull-secret", { [HOST_USE1]: { password: ecrPassword(fresh) } }));
    api.putSecret(dockerSecret("tools", "registry-creds", { "ghcr.io": { password: "ghp_x" } }));
    api.putSecret(dockerSecret("pay", "registry-creds", { "ghcr.io": { password: "ghp_y" } }));
    api.putPod(pod("pay", "api-1", {}));
    api.putPod(pod("shop", "web-1", { pullSecrets: ["registry-creds"] }));
    const d = await diagnoseCluster(target, { api, now: () => NOW });
    const trap = d.stuck.find((s) => s.pod === "api-1")!.causes[0]!;
    expect(trap.code).toBe("default-service-account-trap");
    expect(trap.message).toMatch(/ServiceAccount "payment-api-sa" in pay does carry ecr-pull-secret/);
    expect(trap.hint).toMatch(/serviceAccountName: payment-api-sa/);
    const missing = d.stuck.find((s) => s.pod === "web-1")!.causes[0]!;
    expect(missing.code).toBe("pull-secret-not-found");
    expect(missing.message).toMatch(/exists in namespaces pay, tools/);
    expect(JSON.stringify(d)).not.toMatch(/ghp_[xy]/);
  });

  it("at incident scale one cluster-wide LIST replaces the per-namespace reads (and a failed LIST falls back to GETs)", async () => {
    const build = () => {
      const api = new FakeKubeApi();
      for (let i = 0; i < 40; i++) {
        const ns = `inc-${String(i).padStart(2, "0")}`;
        api.addNamespace(ns);
        if (i < 36) api.putSecret(dockerSecret(ns, "ecr-pull-secret", { [HOST_USE1]: { password: ecrPassword(expired, `PAYLOAD-${i}`) } }));
        api.putPod(pod(ns, "app", { pullSecrets: ["ecr-pull-secret"] }));
        api.putPod(pod(ns, "trap", {}));
      }
      return api;
    };
    const api = build();
    const d = await diagnoseCluster(target, { api, now: () => NOW, pageSize: 500 });
    expect(api.count("readSecret")).toBe(0);
    expect(api.calls.filter((c) => c.method === "listSecrets").map((c) => c.options!.fieldSelector)).toEqual(["metadata.name=ecr-pull-secret"]);
    expect(api.count("listServiceAccounts")).toBe(1);
    expect(api.count("listNamespacedServiceAccounts")).toBe(0);
    expect(d.summary).toEqual([
      { code: "default-service-account-trap", containers: 40, namespaces: Array.from({ length: 40 }, (_, i) => `inc-${String(i).padStart(2, "0")}`) },
      { code: "token-expired", containers: 36, namespaces: Array.from({ length: 36 }, (_, i) => `inc-${String(i).padStart(2, "0")}`) },
      { code: "pull-secret-not-found", containers: 4, namespaces: ["inc-36", "inc-37", "inc-38", "inc-39"] },
    ]);
    expect(d.stuck.find((s) => s.namespace === "inc-39" && s.pod === "app")!.causes[0]!.message).toMatch(
      /exists in namespaces inc-00, inc-01, inc-02, inc-03, inc-04 and 31 more/,
    );
    expect(JSON.stringify(d)).not.toMatch(/PAYLOAD-/);
    // A LIST the server refuses: the same diagnosis from GETs.
    const refusing = build();
    refusing.faults.push((c) => (c.method === "listSecrets" ? new KubeApiError(403, "forbidden") : undefined));
    const viaGets = await diagnoseCluster(target, { api: refusing, now: () => NOW, pageSize: 500, retry: { maxAttempts: 1 } });
    expect(refusing.count("readSecret")).toBe(40);
    expect(viaGets.summary!.slice(0, 2)).toEqual(d.summary!.slice(0, 2));
  });

  it("a Secret that cannot be read is reported, not guessed", async () => {
    const api = cluster();
    api.faults.push((c) => (c.method === "readSecret" && c.name === "opaque" ? Object.assign(new Error("x"), {}) : undefined));
    const d = await diagnoseCluster(target, { api, now: () => NOW, retry: { maxAttempts: 1 } });
    expect(d.stuck.find((s) => s.pod === "opaque")!.causes[0]!.code).toBe("unknown");
    expect(d.errors!.join()).toMatch(/team-b\/opaque could not be read/);
  });

  it("without the optional role, a referenced Secret other than the pull secret is 'could not check' (a note), not a failed read", async () => {
    // rbac.yaml grants get/list on the pull secret's name only: RBAC refuses every other name.
    const api = cluster();
    const refused = (name?: string, fieldSelector?: string) =>
      (name !== undefined && name !== "ecr-pull-secret") || (fieldSelector !== undefined && fieldSelector !== "metadata.name=ecr-pull-secret");
    api.faults.push((c) =>
      (c.method === "readSecret" || c.method === "listSecrets") && refused(c.name, c.options?.fieldSelector) ? new KubeApiError(403, "forbidden") : undefined,
    );
    const d = await diagnoseCluster(target, { api, now: () => NOW, retry: { maxAttempts: 1 } });
    expect(d.errors).toBeUndefined();
    const causes = Object.fromEntries(d.stuck.map((s) => [s.pod, s.causes[0]!]));
    expect(causes.opaque).toMatchObject({
      code: "unknown",
      message: "Secret team-b/opaque: could not check: the optional role ecr-token-rotator-diagnosis-secrets is not bound",
      hint: expect.stringContaining("kubectl apply -f infra/k8s/components/diagnosis-secrets/diagnosis-secrets-rbac.yaml"),
    });
    expect(causes.missing!.message).toContain("could not check: the optional role ecr-token-rotator-diagnosis-secrets is not bound");
    // The product's own pull secret is still read.
    expect(causes.expired!.code).toBe("token-expired");
    expect(d.notes).toEqual([
      "could not check: the optional role ecr-token-rotator-diagnosis-secrets is not bound (infra/k8s/components/diagnosis-secrets/diagnosis-secrets-rbac.yaml): Secrets other than ecr-pull-secret that stuck pods reference were not read",
    ]);
    // With a 403 on the product's own pull secret, the read failed: an error, as before.
    const broken = cluster();
    broken.faults.push((c) => (c.method === "readSecret" && c.name === "ecr-pull-secret" ? new KubeApiError(403, "forbidden") : undefined));
    const failed = await diagnoseCluster(target, { api: broken, now: () => NOW, retry: { maxAttempts: 1 } });
    expect(failed.errors!.join()).toMatch(/team-a\/ecr-pull-secret could not be read: 403/);
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
