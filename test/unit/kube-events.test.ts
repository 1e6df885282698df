/**
 * The product's Kubernetes Events (src/kube/events.ts): deterministic names, one per pod and
 * cause, deduplicated across runs (a repeat raises the count of the same Event), bounded, and
 * free of credential material; and the heal and diagnose steps that record them.
 */
import { describe, expect, it } from "vitest";
import { createDiagnoseStep, createKubernetesStep } from "../../src/clusters/step";
import { loadConfig } from "../../src/config/config";
import { parseRegistryHost } from "../../src/formats/registry-host";
import { eventName, MAX_EVENTS, podEventReason, podEvents, recordEvents, REPORTING_CONTROLLER } from "../../src/kube/events";
import { DEFAULT_RETRY_POLICY } from "../../src/kube/retry";
import type { KubePod } from "../../src/kube/types";
import { parseManualRequest } from "../../src/request/triggers";
import type { StuckContainerReport } from "../../src/report/report";
import { FakeKubeApi, forbidden } from "../support/kube-fake-api";

const HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const paging = { limit: 500, policy: { ...DEFAULT_RETRY_POLICY, maxAttempts: 1 } };
const now = new Date("2030-01-01T00:00:00Z");
const row = (pod: string, code: StuckContainerReport["causes"][number]["code"], uid = `uid-${pod}`): StuckContainerReport => ({
  namespace: "team-a",
  pod,
  podUid: uid,
  container: "app",
  image: `${HOST}/app:1`,
  reason: "ImagePullBackOff",
  causes: [{ code, message: `cause of ${pod}`, hint: `fix of ${pod}` }],
});

describe("Event names and bodies", () => {
  it("the same pod, UID and cause give the same name every run; another UID or cause another name; always a valid name", () => {
    const a = podEvents([row("web", "token-expired")], now)[0]!;
    expect(podEvents([row("web", "token-expired")], new Date())[0]!.metadata.name).toBe(a.metadata.name);
    expect(podEvents([row("web", "token-expired", "uid-2")], now)[0]!.metadata.name).not.toBe(a.metadata.name);
    expect(podEvents([row("web", "pull-secret-not-found")], now)[0]!.metadata.name).not.toBe(a.metadata.name);
    const long = eventName("p".repeat(253), "k");
    expect(long.length).toBeLessThanOrEqual(253);
    expect(long).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
  });

  it("a Warning on the pod (its UID, for kubectl describe), reported by ecr-token-rotator, the cause and the fix in the message", () => {
    const [e] = podEvents([row("web", "token-expired")], now);
    expect(e).toMatchObject({
      type: "Warning",
      reason: "EcrPullCredentials",
      involvedObject: { kind: "Pod", apiVersion: "v1", namespace: "team-a", name: "web", uid: "uid-web" },
      source: { component: REPORTING_CONTROLLER },
      reportingComponent: "ecr-token-rotator",
      reportingInstance: "ecr-token-rotator",
      count: 1,
    });
    expect(e!.message).toBe(`token-expired (container app, image ${HOST}/app:1): cause of web. Fix: fix of web`);
    expect(podEventReason("not-a-credential-problem")).toBe("EcrPullNotCredentials");
    expect(podEventReason("registry-permission-denied")).toBe("EcrPullPermissionDenied");
  });

  it("one per pod and cause: two containers with the same cause share one; a restarted pod gets none", () => {
    const rows = [row("web", "token-expired"), { ...row("web", "token-expired"), container: "side" }, row("other", "unknown")];
    expect(podEvents(rows, now)).toHaveLength(2);
    expect(podEvents(rows, now, new Set(["team-a/web"])).map((e) => e.involvedObject.name)).toEqual(["other"]);
  });
});

describe("recording: deduplicated across runs, bounded, best effort", () => {
  it("first run creates; the next raises the count of the same Event (one LIST + one write each)", async () => {
    const api = new FakeKubeApi().addNamespace("team-a");
    const wanted = podEvents([row("web", "token-expired"), row("api", "token-expired")], now);
    expect(await recordEvents(api, wanted, paging, now)).toEqual({ recorded: 2, repeated: 0, failed: 0, skipped: 0, requests: 3 });
    const later = new Date(now.getTime() + 60_000);
    expect(await recordEvents(api, podEvents([row("web", "token-expired"), row("api", "token-expired")], later), paging, later)).toEqual({
      recorded: 0,
      repeated: 2,
      failed: 0,
      skipped: 0,
      requests: 3,
    });
    expect(api.events.size).toBe(2);
    for (const e of api.events.values()) expect(e).toMatchObject({ count: 2, lastTimestamp: later.toISOString() });
    expect(api.calls.filter((c) => c.method === "listEvents").map((c) => c.options?.fieldSelector)).toEqual([
      "source=ecr-token-rotator",
      "source=ecr-token-rotator",
    ]);
  });

  it("namespace-confined RBAC: a forbidden cluster-wide LIST falls back to the namespaces of the Events", async () => {
    const api = new FakeKubeApi().addNamespace("team-a");
    api.faults.push((c) => (c.method === "listEvents" ? forbidden("rotator", "list", "events") : undefined));
    await recordEvents(api, podEvents([row("web", "token-expired")], now), paging, now);
    const later = await recordEvents(api, podEvents([row("web", "token-expired")], now), paging, now);
    expect(later).toMatchObject({ repeated: 1, failed: 0 });
    expect(api.calls.filter((c) => c.method === "listNamespacedEvents").map((c) => c.namespace)).toEqual(["team-a", "team-a"]);
  });

  it("at most MAX_EVENTS per run; a refused write is counted and said, never thrown", async () => {
    const api = new FakeKubeApi().addNamespace("team-a");
    const many = podEvents(
      Array.from({ length: MAX_EVENTS + 5 }, (_, i) => row(`p${i}`, "token-expired")),
      now,
    );
    expect(await recordEvents(api, many, paging, now)).toMatchObject({ recorded: MAX_EVENTS, skipped: 5 });
    const denied = new FakeKubeApi().addNamespace("team-a");
    denied.faults.push((c) => (c.method === "createEvent" ? forbidden("rotator", "create", "events", "team-a") : undefined));
    const r = await recordEvents(denied, podEvents([row("web", "token-expired")], now), paging, now);
    expect(r).toMatchObject({ recorded: 0, failed: 1 });
    expect(r.errors![0]).toMatch(/forbidden \(403\).*create.*events/);
  });
});

describe("heal and diagnose record them (in-memory API)", () => {
  const password = "s3cr3t-ECR-password-do-not-leak";
  const credentials = [
    { registry: parseRegistryHost(HOST), username: "AWS", password, expiresAt: new Date(Date.now() + 3600_000), proxyEndpoint: `https://${HOST}` },
  ];
  const access = async () => ({ server: "https://127.0.0.1:1", caData: "", token: "bearer-token-do-not-leak" });
  const config = (env: Record<string, string> = {}) =>
    loadConfig({ AWS_REGION: "us-east-1", ECR_REGISTRIES: HOST, EKS_CLUSTERS: "prod", TARGET_NAMESPACES: "team-a,team-b", ...env });
  const world = () => {
    const api = new FakeKubeApi().addNamespace("team-a").addNamespace("team-b");
    const pod: KubePod = {
      metadata: { name: "web", namespace: "team-b", uid: "uid-web" },
      spec: { imagePullSecrets: [{ name: "other-secret" }], containers: [{ name: "app", image: `${HOST}/app:1` }] },
      status: { phase: "Pending", containerStatuses: [{ name: "app", state: { waiting: { reason: "ImagePullBackOff", message: "Back-off" } } }] },
    };
    api.putPod(pod);
    return api;
  };

  it("a heal: a Warning on the stuck pod, a Normal on each Secret it wrote — and no credential material anywhere in them", async () => {
    const api = world();
    const report = await createKubernetesStep(config(), { access, apply: { api }, diagnose: { api } })({
      request: parseManualRequest({ action: "heal" }),
      credentials,
      reason: "heal",
    });
    const events = [...api.events.values()];
    expect(events.map((e) => [e.involvedObject?.kind, e.involvedObject?.name, e.reason]).sort()).toEqual([
      ["Pod", "web", "EcrPullCredentials"],
      ["Secret", "ecr-pull-secret", "PullSecretCreated"],
      ["Secret", "ecr-pull-secret", "PullSecretCreated"],
    ]);
    expect(report.clusters[0]!.events).toMatchObject({ recorded: 3, failed: 0 });
    const text = JSON.stringify(events);
    for (const secret of [password, Buffer.from(`AWS:${password}`).toString("base64"), "bearer-token-do-not-leak"]) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/"(auth|password|token)"\s*:/i);
  });

  it("a diagnose records the pod's Event; RECORD_EVENTS=false and dry runs write none", async () => {
    const api = world();
    await createDiagnoseStep(config(), { access, diagnose: { api } })({ request: parseManualRequest({ action: "diagnose" }) });
    expect([...api.events.values()].map((e) => e.reason)).toEqual(["EcrPullCredentials"]);
    const off = world();
    await createDiagnoseStep(config({ RECORD_EVENTS: "false" }), { access, diagnose: { api: off } })({ request: parseManualRequest({ action: "diagnose" }) });
    const dry = world();
    await createKubernetesStep(config(), { access, apply: { api: dry }, diagnose: { api: dry } })({
      request: parseManualRequest({ action: "heal", dryRun: true }),
      credentials,
      reason: "heal",
    });
    expect([...off.podActionCalls, ...dry.podActionCalls]).toEqual([]);
  });
});
