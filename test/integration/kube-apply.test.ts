/**
 * The apply engine against the real kube-apiserver of the test bed, through its fault proxy,
 * authenticated by the product's own EKS token (src/eks/token.ts) and authorised only by
 * infra/k8s/components/fallback/rbac.yaml. Every state is checked independently with kubectl as admin.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RegistryLogin } from "../../src/formats/dockerconfig";
import { createEksToken } from "../../src/eks/token";
import { applyToCluster, type ClusterApplyResult, type ClusterTarget } from "../../src/kube/apply";
import { createKubeApi } from "../../src/kube/client";
import { DEFAULT_IDENTITIES, startBed, type Bed, type BedIdentity } from "../bed";
import { PRODUCT_MANIFESTS } from "../bed/product-manifests";

const ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
// Shaped like a real ECR password (base64 of a JSON envelope), long enough to be realistic.
const password = (tag: string) =>
  Buffer.from(
    JSON.stringify({ payload: `${tag}-${"P".repeat(1200)}`, datakey: "K".repeat(300), version: "2", type: "DATA_KEY", expiration: 1795550000 }),
  ).toString("base64");
const login = (tag: string): RegistryLogin => ({ host: ECR, username: "AWS", password: password(tag) });
const GHCR_AUTH = Buffer.from("octocat:ghp_foreign").toString("base64");

/** Writes only where RoleBindings allow: the same ClusterRole, bound per namespace. */
const confined: BedIdentity = {
  accessKeyId: "AKIACONFINEDTESTKEY1",
  secretAccessKey: "confined-test-secret-key",
  arn: "arn:aws:iam::123456789012:role/confined-rotator",
  username: "confined-rotator",
  groups: ["confined-rotator"],
};

const TARGET_NAMESPACES = ["team-a", "team-b", "team-c", "team-d", "conflict-type", "conflict-unmanaged"];
let bed: Bed;

const tokenFor = async (id: BedIdentity) =>
  (
    await createEksToken({
      clusterName: bed.clusterName,
      region: bed.region,
      credentials: { accessKeyId: id.accessKeyId, secretAccessKey: id.secretAccessKey },
    })
  ).token;

const target = (over: Partial<ClusterTarget> = {}): ClusterTarget => ({
  cluster: bed.clusterName,
  namespaces: { mode: "selector", labelSelector: "pulls=ecr" },
  pullSecretName: "ecr-pull-secret",
  patchServiceAccounts: ["default"],
  esoResync: { labelSelector: "ecr-token-rotator/resync=true" },
  concurrency: 4,
  adoptUnmanaged: false,
  dryRun: false,
  ...over,
});

async function apply(
  logins: RegistryLogin[],
  over: Partial<ClusterTarget> = {},
  id: BedIdentity = DEFAULT_IDENTITIES.rotator,
  now?: Date,
): Promise<ClusterApplyResult> {
  const connection = { server: bed.proxyUrl, caData: bed.caData, token: await tokenFor(id) };
  return applyToCluster(connection, logins, target(over), { retry: { baseDelayMs: 20, maxDelayMs: 200 }, ...(now ? { now: () => now } : {}) });
}

async function kget<T = Record<string, unknown>>(kind: string, ns: string, name: string): Promise<T | undefined> {
  const res = await bed.kubectl(["get", kind, name, "-n", ns, "-o", "json"]);
  if (res.code !== 0) {
    if (/NotFound|not found/.test(res.stderr)) return undefined;
    throw new Error(`kubectl get ${kind} ${ns}/${name}: ${res.stderr}`);
  }
  return JSON.parse(res.stdout) as T;
}

interface SecretJson {
  type: string;
  metadata: { uid: string; resourceVersion: string; labels?: Record<string, string> };
  data?: Record<string, string>;
}
const pullSecret = (ns: string) => kget<SecretJson>("secret", ns, "ecr-pull-secret");
const authsOf = (s: SecretJson | undefined) =>
  JSON.parse(Buffer.from(s!.data![".dockerconfigjson"]!, "base64").toString()).auths as Record<string, { username?: string; password?: string; auth?: string }>;

const outcomes = (r: ClusterApplyResult) => Object.fromEntries(r.namespaces.map((n) => [n.namespace, n.outcome]));

/** No password, auth value or token fragment anywhere in a result. */
function expectNoSecrets(result: unknown, logins: RegistryLogin[]): void {
  const text = JSON.stringify(result);
  for (const l of logins) {
    const auth = Buffer.from(`${l.username}:${l.password}`).toString("base64");
    for (const s of [l.password, auth]) for (let i = 0; i + 24 <= s.length; i += 97) expect(text).not.toContain(s.slice(i, i + 24));
  }
  expect(text).not.toContain("k8s-aws-v1.");
}

beforeAll(async () => {
  bed = await startBed({ rbacManifests: PRODUCT_MANIFESTS, identities: { confined } });
  for (const ns of TARGET_NAMESPACES) await bed.createNamespace(ns, { pulls: "ecr" });
  await bed.createNamespace("other");
  await bed.createNamespace("locked", { pulls: "confined-test" });
  const managedWithForeign = {
    auths: { "ghcr.io": { auth: GHCR_AUTH }, [ECR]: { username: "AWS", password: "stale", auth: Buffer.from("AWS:stale").toString("base64") } },
  };
  const manifests = [
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "ecr-pull-secret", namespace: "conflict-type" },
      type: "Opaque",
      stringData: { note: "not a pull secret" },
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "ecr-pull-secret", namespace: "conflict-unmanaged", labels: { team: "platform" } },
      type: "kubernetes.io/dockerconfigjson",
      data: { ".dockerconfigjson": Buffer.from(JSON.stringify({ auths: { "ghcr.io": { auth: GHCR_AUTH } } })).toString("base64") },
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "ecr-pull-secret", namespace: "team-b", labels: { "app.kubernetes.io/managed-by": "ecr-token-rotator" } },
      type: "kubernetes.io/dockerconfigjson",
      data: { ".dockerconfigjson": Buffer.from(JSON.stringify(managedWithForeign)).toString("base64") },
    },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default", namespace: "team-a" }, imagePullSecrets: [{ name: "existing-pull" }] },
    ...[
      ["team-a", "registry", true],
      ["team-b", "unrelated", false],
      ["other", "registry", true],
    ].map(([ns, name, labelled]) => ({
      apiVersion: "external-secrets.io/v1",
      kind: "ExternalSecret",
      metadata: { name, namespace: ns, labels: labelled ? { "ecr-token-rotator/resync": "true" } : {} },
      spec: {
        refreshInterval: "1h",
        secretStoreRef: { kind: "ClusterSecretStore", name: "aws" },
        target: { name: "ecr-from-eso" },
        dataFrom: [{ extract: { key: "ecr" } }],
      },
    })),
    // confined-rotator: the product's ClusterRole, bound only in team-a (no cluster-wide list).
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "confined-rotator", namespace: "team-a" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "ecr-token-rotator" },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "confined-rotator" }],
    },
  ];
  await bed.kubectl(["apply", "-f", "-"], { check: true, input: JSON.stringify({ apiVersion: "v1", kind: "List", items: manifests }) });
}, 300_000);

afterAll(async () => {
  await bed?.stop();
});

describe("applyToCluster on the real kube-apiserver", () => {
  const before: Record<string, SecretJson | undefined> = {};

  it("first run: creates, updates in place keeping foreign entries, leaves conflicts untouched, patches SAs, re-syncs ESO", async () => {
    for (const ns of TARGET_NAMESPACES) before[ns] = await pullSecret(ns);
    const logins = [login("one")];
    const now = new Date("2026-11-24T09:00:00Z");
    const result = await apply(logins, {}, DEFAULT_IDENTITIES.rotator, now);

    expect(outcomes(result)).toEqual({
      "conflict-type": "conflict",
      "conflict-unmanaged": "conflict",
      "team-a": "created",
      "team-b": "updated",
      "team-c": "created",
      "team-d": "created",
    });
    expect(result.ok).toBe(true);
    expectNoSecrets(result, logins);

    for (const ns of ["team-a", "team-c", "team-d"]) {
      const s = (await pullSecret(ns))!;
      expect(s.type).toBe("kubernetes.io/dockerconfigjson");
      expect(s.metadata.labels).toEqual({ "app.kubernetes.io/managed-by": "ecr-token-rotator" });
      expect(authsOf(s)[ECR]).toEqual({ username: "AWS", password: logins[0]!.password, auth: Buffer.from(`AWS:${logins[0]!.password}`).toString("base64") });
    }
    // team-b: same object (uid) updated in place, the other registry's entry kept
    const b = (await pullSecret("team-b"))!;
    expect(b.metadata.uid).toBe(before["team-b"]!.metadata.uid);
    expect(authsOf(b)["ghcr.io"]).toEqual({ auth: GHCR_AUTH });
    expect(authsOf(b)[ECR]!.password).toBe(logins[0]!.password);
    // conflicts: byte-for-byte untouched
    for (const ns of ["conflict-type", "conflict-unmanaged"]) expect(await pullSecret(ns)).toEqual(before[ns]);
    expect(result.namespaces.find((n) => n.namespace === "conflict-type")!.reason).toMatch(/type Opaque/);

    // ServiceAccounts: entry appended, existing kept; not in conflicting namespaces
    const saPulls = async (ns: string) => (await kget<{ imagePullSecrets?: Array<{ name: string }> }>("serviceaccount", ns, "default"))!.imagePullSecrets;
    expect(await saPulls("team-a")).toEqual([{ name: "existing-pull" }, { name: "ecr-pull-secret" }]);
    for (const ns of ["team-b", "team-c", "team-d"]) expect(await saPulls(ns)).toEqual([{ name: "ecr-pull-secret" }]);
    for (const ns of ["conflict-type", "conflict-unmanaged"]) expect(await saPulls(ns)).toBeUndefined();
    expect(result.serviceAccounts.patched).toHaveLength(4);

    // ExternalSecrets: only the labelled one in a target namespace
    const annotations = async (ns: string, name: string) =>
      (await kget<{ metadata: { annotations?: Record<string, string> } }>("externalsecret", ns, name))!.metadata.annotations ?? {};
    expect((await annotations("team-a", "registry"))["force-sync"]).toBe(String(now.getTime() / 1000));
    expect((await annotations("team-b", "unrelated"))["force-sync"]).toBeUndefined();
    expect((await annotations("other", "registry"))["force-sync"]).toBeUndefined();
    expect(result.externalSecrets.resynced).toEqual(["team-a/registry"]);
  });

  it("re-run with the same token: no write at all, only the paginated LISTs", async () => {
    bed.proxy.resetCounts();
    const result = await apply([login("one")], { esoResync: undefined });
    expect(result.counts.unchanged).toBe(4);
    expect(result.serviceAccounts.unchanged).toBe(4);
    const seen = bed.proxy.requests();
    expect(seen.filter((r) => r.method !== "GET")).toEqual([]);
    expect(seen.map((r) => r.path).sort()).toEqual(["/api/v1/namespaces", "/api/v1/secrets", "/api/v1/serviceaccounts"]);
    expect(result.requests).toBe(seen.length);
  });

  it("new token (steady state of a heal): exactly one PATCH per namespace, no GET per namespace", async () => {
    bed.proxy.resetCounts();
    const logins = [login("two")];
    const result = await apply(logins, { esoResync: undefined });
    expect(result.counts.updated).toBe(4);
    const seen = bed.proxy.requests();
    expect(
      seen
        .filter((r) => r.method === "PATCH")
        .map((r) => r.path)
        .sort(),
    ).toEqual(["team-a", "team-b", "team-c", "team-d"].map((ns) => `/api/v1/namespaces/${ns}/secrets/ecr-pull-secret`));
    expect(seen.filter((r) => r.method === "GET")).toHaveLength(3);
    expect(seen).toHaveLength(7);
    for (const ns of ["team-a", "team-d"]) expect(authsOf(await pullSecret(ns))[ECR]!.password).toBe(logins[0]!.password);
    expect(authsOf(await pullSecret("team-b"))["ghcr.io"]).toEqual({ auth: GHCR_AUTH });
  });

  it("429 (Retry-After), 503 and dropped connections injected by the proxy are retried; no duplicate, state correct", async () => {
    bed.proxy.reset();
    const patch = { method: "PATCH", path: "/api/v1/namespaces/*/secrets/*" };
    bed.proxy.throttle(2, 1, { match: patch });
    bed.proxy.failNext(2, 503, { match: patch });
    bed.proxy.dropNext(1, { match: patch, afterUpstream: true }); // applied, answer lost
    bed.proxy.dropNext(1, { match: { method: "GET", path: "/api/v1/secrets" } }); // the LIST itself
    const logins = [login("three")];
    const result = await apply(logins, { esoResync: undefined, patchServiceAccounts: [] });
    bed.proxy.clearFaults();

    expect(result.ok).toBe(true);
    expect(outcomes(result)).toMatchObject({ "team-a": "updated", "team-b": "updated", "team-c": "updated", "team-d": "updated" });
    const seen = bed.proxy.requests();
    expect(seen.filter((r) => r.status === 429)).toHaveLength(2);
    expect(seen.filter((r) => r.status === 503)).toHaveLength(2);
    expect(seen.filter((r) => r.outcome === "dropped")).toHaveLength(2);
    expect(result.namespaces.reduce((n, x) => n + (x.attempts ?? 1), 0)).toBeGreaterThanOrEqual(4 + 5);
    for (const ns of ["team-a", "team-b", "team-c", "team-d"]) expect(authsOf(await pullSecret(ns))[ECR]!.password).toBe(logins[0]!.password);
    expectNoSecrets(result, logins);
  });

  it("partial failure: a namespace failing after every retry is reported, the others are written, the run is not ok", async () => {
    bed.proxy.reset();
    bed.proxy.failNext(50, 500, { match: { method: "PATCH", path: "/api/v1/namespaces/team-c/secrets/*" } });
    const logins = [login("four")];
    const result = await apply(logins, { esoResync: undefined, patchServiceAccounts: [] });
    bed.proxy.clearFaults();

    expect(result.ok).toBe(false);
    const c = result.namespaces.find((n) => n.namespace === "team-c")!;
    expect(c).toMatchObject({ outcome: "failed", attempts: 5 });
    expect(c.reason).toMatch(/HTTP 500 on patch secrets in namespace "team-c", retries exhausted/);
    expect(outcomes(result)).toMatchObject({ "team-a": "updated", "team-b": "updated", "team-d": "updated" });
    expect(authsOf(await pullSecret("team-c"))[ECR]!.password).toBe(login("three").password);
    expect(authsOf(await pullSecret("team-d"))[ECR]!.password).toBe(logins[0]!.password);
    expect(bed.proxy.requests({ method: "PATCH", path: "/api/v1/namespaces/team-c/secrets/*" })).toHaveLength(5);
    expectNoSecrets(result, logins);
  });

  it("403: a namespace the identity may not write to is failed with the missing permission and left untouched", async () => {
    const logins = [login("five")];
    const result = await apply(logins, { namespaces: { mode: "list", names: ["team-a", "locked"] }, esoResync: undefined }, confined);

    expect(outcomes(result)).toEqual({ "team-a": "updated", locked: "failed" });
    const locked = result.namespaces.find((n) => n.namespace === "locked")!;
    expect(locked.reason).toMatch(/forbidden \(403\): missing RBAC permission "get" on "secrets" in namespace "locked"/);
    expect(locked.reason).toMatch(/User "confined-rotator" cannot get resource "secrets" in API group "" in the namespace "locked"/);
    // without cluster-wide list rights the engine said so and read per namespace
    expect(result.notes.join("\n")).toMatch(/cannot list namespaces/);
    expect(result.notes.join("\n")).toMatch(/cluster-wide list of secrets failed \(forbidden/);
    expect(await pullSecret("locked")).toBeUndefined();
    expect((await kget<{ imagePullSecrets?: unknown }>("serviceaccount", "locked", "default"))!.imagePullSecrets).toBeUndefined();
    expect(authsOf(await pullSecret("team-a"))[ECR]!.password).toBe(logins[0]!.password);
    expect(result.ok).toBe(false);
    expectNoSecrets(result, logins);
  });

  it("dry run: reports what it would write, writes nothing", async () => {
    bed.proxy.reset();
    const rvBefore = (await pullSecret("team-d"))!.metadata.resourceVersion;
    const result = await apply([login("six")], { dryRun: true });
    expect(bed.proxy.requests().filter((r) => r.method !== "GET")).toEqual([]);
    expect(
      result.namespaces
        .filter((n) => n.wouldWrite)
        .map((n) => n.namespace)
        .sort(),
    ).toEqual(["team-a", "team-b", "team-c", "team-d"]);
    expect((await pullSecret("team-d"))!.metadata.resourceVersion).toBe(rvBefore);
  });

  it("adoptUnmanaged takes over the unmanaged dockerconfigjson Secret in place, keeping its entries and labels", async () => {
    const uid = before["conflict-unmanaged"]!.metadata.uid;
    const result = await apply([login("seven")], {
      adoptUnmanaged: true,
      esoResync: undefined,
      namespaces: { mode: "list", names: ["conflict-unmanaged", "conflict-type"] },
    });
    expect(outcomes(result)).toEqual({ "conflict-type": "conflict", "conflict-unmanaged": "updated" });
    const s = (await pullSecret("conflict-unmanaged"))!;
    expect(s.metadata.uid).toBe(uid);
    expect(s.metadata.labels).toEqual({ team: "platform", "app.kubernetes.io/managed-by": "ecr-token-rotator" });
    expect(authsOf(s)["ghcr.io"]).toEqual({ auth: GHCR_AUTH });
    expect(await pullSecret("conflict-type")).toEqual(before["conflict-type"]);
  });

  it("the client-node adapter gives the same result on the same cluster", async () => {
    const connection = { server: bed.proxyUrl, caData: bed.caData, token: await tokenFor(DEFAULT_IDENTITIES.rotator) };
    const logins = [login("eight")];
    const api = await createKubeApi(connection);
    const result = await applyToCluster(
      connection,
      logins,
      target({ esoResync: undefined, namespaces: { mode: "list", names: ["team-a", "team-b", "conflict-type"] } }),
      { api },
    ).finally(() => api.close?.());
    expect(outcomes(result)).toEqual({ "conflict-type": "conflict", "team-a": "updated", "team-b": "updated" });
    expect(authsOf(await pullSecret("team-b"))[ECR]!.password).toBe(logins[0]!.password);
    expectNoSecrets(result, logins);
  });
});
