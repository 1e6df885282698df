import { describe, expect, it } from "vitest";
import { buildDockerConfig, type RegistryLogin } from "../../src/formats/dockerconfig";
import { applyToCluster, type ClusterTarget } from "../../src/kube/apply";
import { DOCKERCONFIGJSON_KEY, DOCKERCONFIGJSON_TYPE, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "../../src/kube/decide";
import { clusterTarget as target } from "../support/fixtures";
import { FakeKubeApi, forbidden } from "../support/kube-fake-api";
import { KubeApiError, type KubeSecret } from "../../src/kube/types";

const ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const PASSWORD = "eyJwYXlsb2FkIjoiU0VDUkVUUEFZTE9BRCIsImRhdGFrZXkiOiJLRVkifQ-super-secret-password";
const login: RegistryLogin = { host: ECR, username: "AWS", password: PASSWORD };
const AUTH = Buffer.from(`AWS:${PASSWORD}`).toString("base64");
const TOKEN = "k8s-aws-v1.aHR0cHM6Ly9zdHMudXMtZWFzdC0xLmFtYXpvbmF3cy5jb20vP0FjdGlvbj1HZXRDYWxsZXJJZGVudGl0eQ";
const connection = { server: "https://127.0.0.1:1", caData: "", token: TOKEN };
const now = () => new Date("2026-11-24T08:00:00Z");
const noSleep = async () => undefined;

const apply = (api: FakeKubeApi, t: ClusterTarget, logins: RegistryLogin[] = [login]) =>
  applyToCluster(connection, logins, t, { api, now, sleep: noSleep, random: () => 0.5, pageSize: 3 });

const fleet = (n: number): FakeKubeApi => {
  const api = new FakeKubeApi();
  for (let i = 0; i < n; i++) api.addNamespace(`ns-${String(i).padStart(2, "0")}`, { pulls: i % 2 === 0 ? "ecr" : "no" });
  return api;
};
const configOf = (api: FakeKubeApi, ns: string) => {
  const s = api.secrets.get(`${ns}/ecr-pull-secret`)!;
  return JSON.parse(Buffer.from(s.data![DOCKERCONFIGJSON_KEY]!, "base64").toString()) as { auths: Record<string, { password?: string; auth?: string }> };
};

describe("applyToCluster (fake API)", () => {
  it("first run creates one Secret per namespace; the rerun with the same token writes nothing", async () => {
    const api = fleet(7);
    const first = await apply(api, target());
    expect(first.ok).toBe(true);
    expect(first.counts.created).toBe(7);
    expect(first.namespaces.map((n) => n.outcome)).toEqual(Array(7).fill("created"));
    for (const n of first.namespaces) {
      const s = api.secrets.get(`${n.namespace}/ecr-pull-secret`)!;
      expect(s.type).toBe(DOCKERCONFIGJSON_TYPE);
      expect(s.metadata.labels).toEqual({ [MANAGED_BY_LABEL]: MANAGED_BY_VALUE });
      expect(configOf(api, n.namespace).auths[ECR]!.password).toBe(PASSWORD);
    }
    api.calls.length = 0;
    const second = await apply(api, target());
    expect(second.counts.unchanged).toBe(7);
    expect(api.writes()).toEqual([]);
    expect(api.count("readSecret")).toBe(0);
  });

  it("steady state with a new token: exactly one PATCH per namespace plus paginated LISTs, no GETs", async () => {
    const api = fleet(10);
    await apply(api, target());
    api.calls.length = 0;
    const rotated = await apply(api, target(), [{ ...login, password: "rotated-password" }]);
    expect(rotated.counts.updated).toBe(10);
    expect(api.count("patchSecret")).toBe(10);
    expect(api.count("createSecret")).toBe(0);
    expect(api.count("readSecret")).toBe(0);
    // 10 namespaces / page 3 = 4 pages each for namespaces and secrets
    expect(api.count("listNamespaces")).toBe(4);
    expect(api.count("listSecrets")).toBe(4);
    expect(api.calls.filter((c) => c.method === "listSecrets").every((c) => c.options?.fieldSelector === "metadata.name=ecr-pull-secret")).toBe(true);
    expect(rotated.requests).toBe(api.calls.length);
    for (const c of api.calls.filter((c) => c.method === "patchSecret")) {
      expect((c.body as { metadata: { resourceVersion?: string } }).metadata.resourceVersion).toMatch(/^\d+$/);
    }
    expect(configOf(api, "ns-03").auths[ECR]!.password).toBe("rotated-password");
    expect(rotated.notes.join("\n")).toMatch(/updated in place.*no pod restart/);
  });

  it("keeps other registries' entries in an existing managed Secret", async () => {
    const api = fleet(1);
    api.putSecret({
      metadata: { name: "ecr-pull-secret", namespace: "ns-00", labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } },
      type: DOCKERCONFIGJSON_TYPE,
      data: { [DOCKERCONFIGJSON_KEY]: Buffer.from(JSON.stringify({ auths: { "ghcr.io": { auth: "Zm9vOmJhcg==" } } })).toString("base64") },
    });
    const r = await apply(api, target());
    expect(r.namespaces[0]!.outcome).toBe("updated");
    expect(configOf(api, "ns-00").auths["ghcr.io"]).toEqual({ auth: "Zm9vOmJhcg==" });
    expect(configOf(api, "ns-00").auths[ECR]!.password).toBe(PASSWORD);
  });

  it("conflicts (wrong type, unmanaged) are reported and untouched; adoption is opt-in", async () => {
    const api = fleet(3);
    api.putSecret({ metadata: { name: "ecr-pull-secret", namespace: "ns-00" }, type: "Opaque", data: { x: "eQ==" } });
    const foreign: KubeSecret = {
      metadata: { name: "ecr-pull-secret", namespace: "ns-01", labels: { team: "b" } },
      type: DOCKERCONFIGJSON_TYPE,
      data: { [DOCKERCONFIGJSON_KEY]: Buffer.from(JSON.stringify(buildDockerConfig([{ host: "ghcr.io", username: "u", password: "p" }]))).toString("base64") },
    };
    api.putSecret(foreign);
    const before = structuredClone([api.secrets.get("ns-00/ecr-pull-secret"), api.secrets.get("ns-01/ecr-pull-secret")]);
    const r = await apply(api, target({ patchServiceAccounts: ["default"] }));
    const by = Object.fromEntries(r.namespaces.map((n) => [n.namespace, n]));
    expect(by["ns-00"]).toMatchObject({ outcome: "conflict", reason: expect.stringMatching(/type Opaque/) });
    expect(by["ns-01"]).toMatchObject({ outcome: "conflict", reason: expect.stringMatching(/not labelled/) });
    expect(by["ns-02"]!.outcome).toBe("created");
    expect([api.secrets.get("ns-00/ecr-pull-secret"), api.secrets.get("ns-01/ecr-pull-secret")]).toEqual(before);
    // SAs of conflicting namespaces are not pointed at a Secret we do not manage
    expect(api.serviceAccounts.get("ns-00/default")!.imagePullSecrets).toBeUndefined();
    expect(r.ok).toBe(true); // a conflict is reported, not a failure

    const adopted = await apply(api, target({ adoptUnmanaged: true }));
    expect(adopted.namespaces.find((n) => n.namespace === "ns-01")).toMatchObject({ outcome: "updated", reason: expect.stringMatching(/adopted/) });
    expect(adopted.namespaces.find((n) => n.namespace === "ns-00")!.outcome).toBe("conflict");
    expect(configOf(api, "ns-01").auths["ghcr.io"]).toBeDefined();
    expect(api.secrets.get("ns-01/ecr-pull-secret")!.metadata.labels).toMatchObject({ team: "b", [MANAGED_BY_LABEL]: MANAGED_BY_VALUE });
  });

  it("patches ServiceAccounts keeping their entries, idempotently; a missing SA is reported, not created", async () => {
    const api = fleet(2);
    api.putServiceAccount({ metadata: { name: "default", namespace: "ns-00" }, imagePullSecrets: [{ name: "existing" }] });
    api.putServiceAccount({ metadata: { name: "builder", namespace: "ns-00" } });
    const t = target({ patchServiceAccounts: ["default", "builder"] });
    const r = await apply(api, t);
    expect(api.serviceAccounts.get("ns-00/default")!.imagePullSecrets).toEqual([{ name: "existing" }, { name: "ecr-pull-secret" }]);
    expect(api.serviceAccounts.get("ns-00/builder")!.imagePullSecrets).toEqual([{ name: "ecr-pull-secret" }]);
    expect(api.serviceAccounts.get("ns-01/default")!.imagePullSecrets).toEqual([{ name: "ecr-pull-secret" }]);
    expect(api.serviceAccounts.has("ns-01/builder")).toBe(false);
    expect(r.serviceAccounts.patched).toEqual(["ns-00/default", "ns-00/builder", "ns-01/default"]);
    expect(r.serviceAccounts.missing).toEqual(["ns-01/builder"]);
    expect(r.namespaces[1]!.serviceAccountsMissing).toEqual(["builder"]);
    expect(r.ok).toBe(true);
    expect(r.notes.join("\n")).toMatch(/only pods created from now on/);
    // one cluster-wide LIST per SA name (2 namespaces, page 3: one page each)
    expect(api.calls.filter((c) => c.method === "listServiceAccounts").map((c) => c.options?.fieldSelector)).toEqual([
      "metadata.name=default",
      "metadata.name=builder",
    ]);

    api.calls.length = 0;
    const again = await apply(api, t);
    expect(api.count("patchServiceAccount")).toBe(0);
    expect(again.serviceAccounts.unchanged).toBe(3);
  });

  it("re-syncs matching ExternalSecrets in target namespaces only", async () => {
    const api = fleet(3);
    api.putExternalSecret({ metadata: { name: "pull", namespace: "ns-00", labels: { "ecr-token-rotator/resync": "true" } } });
    api.putExternalSecret({ metadata: { name: "other", namespace: "ns-00", labels: {} } });
    api.putExternalSecret({ metadata: { name: "pull", namespace: "ns-01", labels: { "ecr-token-rotator/resync": "true" } } });
    const r = await apply(
      api,
      target({ namespaces: { mode: "list", names: ["ns-00", "ns-02"] }, esoResync: { labelSelector: "ecr-token-rotator/resync=true" } }),
    );
    expect(r.externalSecrets.resynced).toEqual(["ns-00/pull"]);
    expect(api.externalSecrets.get("ns-00/pull")!.metadata.annotations).toEqual({ "force-sync": String(Date.parse("2026-11-24T08:00:00Z") / 1000) });
    expect(api.externalSecrets.get("ns-00/other")!.metadata.annotations).toBeUndefined();
    expect(api.externalSecrets.get("ns-01/pull")!.metadata.annotations).toBeUndefined();
  });

  it("ESO not installed: reported as an ESO failure, the secrets are still applied", async () => {
    const api = fleet(2);
    api.esoInstalled = false;
    const r = await apply(api, target({ esoResync: { labelSelector: "a=b" } }));
    expect(r.counts.created).toBe(2);
    expect(r.externalSecrets.failed[0]!.reason).toMatch(/external-secrets.io\/v1.*not served/);
    expect(r.ok).toBe(false);
  });

  it("403 on one namespace: failed with the missing permission, the others proceed, no retry", async () => {
    const api = fleet(4);
    api.faults.push((c) => (c.namespace === "ns-02" && c.verb === "create" ? forbidden("ecr-token-rotator", "create", "secrets", "ns-02") : undefined));
    const r = await apply(api, target());
    const failed = r.namespaces.find((n) => n.namespace === "ns-02")!;
    expect(failed.outcome).toBe("failed");
    expect(failed.reason).toMatch(/forbidden \(403\): missing RBAC permission "create" on "secrets" in namespace "ns-02"/);
    expect(failed.reason).toMatch(/cannot create resource "secrets"/);
    expect(r.counts.created).toBe(3);
    expect(api.calls.filter((c) => c.namespace === "ns-02" && c.verb === "create")).toHaveLength(1);
    expect(r.ok).toBe(false);
    expect(api.secrets.has("ns-02/ecr-pull-secret")).toBe(false);
  });

  it("retries 429 (Retry-After), 5xx and dropped connections, then succeeds", async () => {
    const api = fleet(3);
    const plan = new Map<string, KubeApiError[]>([
      ["ns-00", [new KubeApiError(429, "too many requests", { retryAfterSeconds: 1 })]],
      ["ns-01", [new KubeApiError(503, "unavailable"), new KubeApiError(500, "boom")]],
      ["ns-02", [KubeApiError.network("ECONNRESET")]],
    ]);
    api.faults.push((c) => (c.verb === "create" ? plan.get(c.namespace!)?.shift() : undefined));
    const sleeps: number[] = [];
    const r = await applyToCluster(connection, [login], target(), { api, sleep: async (ms) => void sleeps.push(ms), random: () => 0.5 });
    expect(r.ok).toBe(true);
    expect(r.counts.created).toBe(3);
    expect(r.namespaces.map((n) => n.attempts)).toEqual([2, 3, 2]);
    expect(sleeps).toContain(1000);
  });

  it("a create whose response was lost is not duplicated: 409 AlreadyExists → re-read → reported as created", async () => {
    const api = fleet(1);
    let dropped = false;
    const realCreate = api.createSecret.bind(api);
    api.createSecret = async (ns, body) => {
      const out = await realCreate(ns, body);
      if (!dropped) {
        dropped = true;
        throw KubeApiError.network("ECONNRESET");
      }
      return out;
    };
    const r = await apply(api, target());
    expect(r.namespaces[0]).toMatchObject({ outcome: "created", attempts: 3, reason: expect.stringMatching(/response to the write was lost/) });
    expect(api.count("createSecret")).toBe(2);
    expect(api.count("readSecret")).toBe(1);
    expect(r.ok).toBe(true);
  });

  it("409 on a stale resourceVersion: re-read that one Secret, merge again, keep the concurrent change", async () => {
    const api = fleet(2);
    await apply(api, target());
    // someone adds a registry between our LIST and our PATCH
    let raced = false;
    api.faults.push((c) => {
      if (c.method === "patchSecret" && c.namespace === "ns-01" && !raced) {
        raced = true;
        const s = api.secrets.get("ns-01/ecr-pull-secret")!;
        const cfg = JSON.parse(Buffer.from(s.data![DOCKERCONFIGJSON_KEY]!, "base64").toString());
        cfg.auths["quay.io"] = { auth: "cTp3" };
        api.putSecret({ ...s, data: { [DOCKERCONFIGJSON_KEY]: Buffer.from(JSON.stringify(cfg)).toString("base64") } });
      }
      return undefined;
    });
    const r = await apply(api, target(), [{ ...login, password: "new" }]);
    expect(r.namespaces.find((n) => n.namespace === "ns-01")).toMatchObject({ outcome: "updated", attempts: 2 });
    expect(api.count("readSecret")).toBe(1);
    expect(configOf(api, "ns-01").auths["quay.io"]).toEqual({ auth: "cTp3" });
    expect(configOf(api, "ns-01").auths[ECR]!.password).toBe("new");
  });

  it("exhausted retries fail only that namespace", async () => {
    const api = fleet(3);
    api.faults.push((c) => (c.namespace === "ns-01" && c.verb === "create" ? new KubeApiError(500, "etcdserver: request timed out") : undefined));
    const r = await applyToCluster(connection, [login], target(), { api, sleep: noSleep, retry: { maxAttempts: 3 } });
    expect(r.namespaces.find((n) => n.namespace === "ns-01")).toMatchObject({
      outcome: "failed",
      attempts: 3,
      reason: expect.stringMatching(/HTTP 500.*retries exhausted/),
    });
    expect(r.counts.created).toBe(2);
    expect(api.calls.filter((c) => c.namespace === "ns-01" && c.verb === "create")).toHaveLength(3);
    expect(r.ok).toBe(false);
  });

  it("never leaks secret material, even when the API server echoes the request body", async () => {
    const api = fleet(2);
    api.faults.push((c) => {
      if (c.verb !== "create") return undefined;
      const echoed = JSON.stringify(c.body);
      return c.namespace === "ns-00"
        ? new KubeApiError(422, `Secret "ecr-pull-secret" is invalid: data: Invalid value: ${echoed}`)
        : new Error(`password=${PASSWORD} Authorization: Bearer ${TOKEN} unexpected failure with body ${echoed}`);
    });
    const r = await apply(api, target({ esoResync: { labelSelector: "x=y" } }));
    expect(r.counts.failed).toBe(2);
    const text = JSON.stringify(r);
    const dockerconfig = (api.calls.find((c) => c.verb === "create")!.body as KubeSecret).data![DOCKERCONFIGJSON_KEY]!;
    // no fragment of any secret value either (a truncated echo must not leak a prefix)
    for (const s of [PASSWORD, AUTH, TOKEN, dockerconfig]) {
      for (let i = 0; i + 16 <= s.length; i += 4) expect(text).not.toContain(s.slice(i, i + 16));
    }
    expect(text).not.toContain("SECRETPAYLOAD");
    expect(r.namespaces[0]!.reason).toMatch(/HTTP 422.*is invalid/);
  });

  it("dry run computes every write and writes nothing", async () => {
    const api = fleet(3);
    api.putSecret({
      metadata: { name: "ecr-pull-secret", namespace: "ns-01", labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } },
      type: DOCKERCONFIGJSON_TYPE,
      data: { [DOCKERCONFIGJSON_KEY]: Buffer.from(JSON.stringify(buildDockerConfig([{ ...login, password: "old" }]))).toString("base64") },
    });
    api.putExternalSecret({ metadata: { name: "es", namespace: "ns-02", labels: { a: "b" } } });
    const r = await apply(api, target({ dryRun: true, patchServiceAccounts: ["default"], esoResync: { labelSelector: "a=b" } }));
    expect(api.writes()).toEqual([]);
    expect(r.dryRun).toBe(true);
    expect(r.namespaces.map((n) => [n.outcome, n.wouldWrite])).toEqual([
      ["created", true],
      ["updated", true],
      ["created", true],
    ]);
    expect(r.serviceAccounts.patched).toHaveLength(3);
    expect(r.externalSecrets.resynced).toEqual(["ns-02/es"]);
    expect(r.notes.join("\n")).toMatch(/would be updated/);
  });

  it("bounded concurrency and progress", async () => {
    const api = fleet(20);
    api.latencyMs = 2;
    const progress: Array<[number, number]> = [];
    const r = await applyToCluster(connection, [login], target({ concurrency: 3 }), { api, sleep: noSleep, onProgress: (d, t) => progress.push([d, t]) });
    expect(r.counts.created).toBe(20);
    expect(api.maxInFlight).toBeLessThanOrEqual(3);
    expect(api.maxInFlight).toBeGreaterThan(1);
    expect(progress[0]).toEqual([0, 20]);
    expect(progress.at(-1)).toEqual([20, 20]);
  });

  it("selector and list modes; a listed namespace that does not exist fails; terminating ones are skipped", async () => {
    const api = fleet(4);
    api.addNamespace("going", { pulls: "ecr" }, "Terminating");
    const bySel = await apply(api, target({ namespaces: { mode: "selector", labelSelector: "pulls=ecr" } }));
    expect(bySel.namespaces.map((n) => [n.namespace, n.outcome])).toEqual([
      ["going", "skipped"],
      ["ns-00", "created"],
      ["ns-02", "created"],
    ]);
    expect(bySel.ok).toBe(true);
    expect(api.calls.find((c) => c.method === "listNamespaces")!.options!.labelSelector).toBe("pulls=ecr");
    const byList = await apply(api, target({ namespaces: { mode: "list", names: ["ns-01", "ghost"] } }));
    expect(byList.namespaces).toEqual([
      { namespace: "ghost", outcome: "failed", reason: "namespace ghost not found" },
      { namespace: "ns-01", outcome: "created" },
    ]);
    expect(byList.ok).toBe(false);
  });

  it("namespace-scoped RBAC: list forbidden → explicit names applied, secrets read per namespace", async () => {
    const api = fleet(3);
    api.faults.push((c) => (c.verb === "list" ? forbidden("ecr-token-rotator", "list", c.resource) : undefined));
    const r = await apply(api, target({ namespaces: { mode: "list", names: ["ns-00", "ns-01"] }, patchServiceAccounts: ["default"] }));
    expect(r.ok).toBe(true);
    expect(r.counts.created).toBe(2);
    expect(api.count("readSecret")).toBe(2);
    expect(api.count("readServiceAccount")).toBe(2);
    expect(r.notes.join("\n")).toMatch(/cannot list namespaces/);
    // in "all" mode the namespace list is required
    const all = await apply(api, target());
    expect(all.ok).toBe(false);
    expect(all.errors[0]).toMatch(/listing namespaces failed: forbidden \(403\): missing RBAC permission "list" on "namespaces" cluster-wide/);
  });

  it("a Secret deleted between LIST and PATCH is created instead", async () => {
    const api = fleet(1);
    await apply(api, target());
    api.faults.push((c) => {
      if (c.method === "patchSecret") api.secrets.delete("ns-00/ecr-pull-secret");
      return undefined;
    });
    const r = await apply(api, target(), [{ ...login, password: "n" }]);
    expect(r.namespaces[0]!.outcome).toBe("created");
    expect(configOf(api, "ns-00").auths[ECR]!.password).toBe("n");
  });

  it("rejects an invalid target before any request", async () => {
    const api = fleet(1);
    await expect(apply(api, target({ pullSecretName: "Bad_Name" }))).rejects.toThrow(/invalid pull secret name/);
    await expect(apply(api, target({ concurrency: 0 }))).rejects.toThrow(/concurrency/);
    await expect(apply(api, target({ namespaces: { mode: "selector", labelSelector: "a b" } }))).rejects.toThrow(/label selector/);
    await expect(apply(api, target(), [])).rejects.toThrow(/no registry logins/);
    expect(api.calls).toEqual([]);
  });
});
