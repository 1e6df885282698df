/**
 * Re-sync of ExternalSecrets a ClusterExternalSecret owns: the ClusterExternalSecret controller
 * resets its children's annotations, so the heal patches the parent once
 * (spec.externalSecretMetadata.annotations["force-sync"]) instead of annotating each child, and
 * reports the children as re-synced and the parent in `clusterExternalSecrets`.
 */
import { describe, expect, it } from "vitest";
import { clusterReport } from "../../src/clusters/step";
import { applyToCluster, type ClusterTarget } from "../../src/kube/apply";
import { FakeKubeApi, forbidden } from "../support/kube-fake-api";

const ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const login = { host: ECR, username: "AWS", password: "eso-cluster-resync-password-0123456789" };
const now = () => new Date("2026-12-02T09:00:00Z");
const FORCE_SYNC = String(Date.parse("2026-12-02T09:00:00Z") / 1000);

const target = (over: Partial<ClusterTarget> = {}): ClusterTarget => ({
  cluster: "test",
  namespaces: { mode: "all", exclude: [] },
  pullSecretName: "ecr-fallback-pull-secret",
  patchServiceAccounts: [],
  concurrency: 4,
  adoptUnmanaged: false,
  dryRun: false,
  esoResync: { labelSelector: "resync=true" },
  ...over,
});

/** Two children of the ClusterExternalSecret "ecr-pull", one standalone ExternalSecret, all labelled. */
function cluster(): FakeKubeApi {
  const api = new FakeKubeApi();
  for (const ns of ["shop", "billing", "plain"]) api.addNamespace(ns);
  api.putClusterExternalSecret({
    metadata: { name: "ecr-pull" },
    spec: { externalSecretMetadata: { labels: { resync: "true" }, annotations: { team: "platform" } }, refreshTime: "1h" },
  });
  for (const ns of ["shop", "billing"])
    api.putExternalSecret({
      metadata: {
        name: "ecr-pull-secret",
        namespace: ns,
        labels: { resync: "true" },
        annotations: { team: "platform" },
        ownerReferences: [{ apiVersion: "external-secrets.io/v1", kind: "ClusterExternalSecret", name: "ecr-pull", uid: "c-1", controller: true }],
      },
      spec: { target: { name: "ecr-pull-secret" } },
    });
  api.putExternalSecret({ metadata: { name: "own", namespace: "plain", labels: { resync: "true" } }, spec: { target: { name: "own" } } });
  return api;
}

const apply = (api: FakeKubeApi, t: ClusterTarget) =>
  applyToCluster({ server: "https://127.0.0.1:1", caData: "", token: "t" }, [login], t, { api, now, sleep: async () => undefined });

describe("ESO_RESYNC and ClusterExternalSecrets (fake API)", () => {
  it("patches the parent once instead of annotating its children; a standalone ExternalSecret is annotated", async () => {
    const api = cluster();
    const r = await apply(api, target());
    expect(r.ok).toBe(true);
    const cesPatches = api.calls.filter((c) => c.method === "patchClusterExternalSecret");
    expect(cesPatches).toHaveLength(1);
    expect(cesPatches[0]).toMatchObject({ verb: "patch", resource: "clusterexternalsecrets", name: "ecr-pull" });
    expect(cesPatches[0]!.body).toEqual({ spec: { externalSecretMetadata: { annotations: { "force-sync": FORCE_SYNC } } } });
    // A merge patch: the parent's other metadata and spec are kept.
    expect(api.clusterExternalSecrets.get("/ecr-pull")!.spec).toEqual({
      externalSecretMetadata: { labels: { resync: "true" }, annotations: { team: "platform", "force-sync": FORCE_SYNC } },
      refreshTime: "1h",
    });
    // The children are not touched (their controller would reset it); the standalone one is.
    expect(api.calls.filter((c) => c.method === "patchExternalSecret").map((c) => `${c.namespace}/${c.name}`)).toEqual(["plain/own"]);
    for (const ns of ["shop", "billing"]) expect(api.externalSecrets.get(`${ns}/ecr-pull-secret`)!.metadata.annotations).toEqual({ team: "platform" });
    expect(api.externalSecrets.get("plain/own")!.metadata.annotations).toEqual({ "force-sync": FORCE_SYNC });

    expect(r.externalSecrets.resynced).toEqual(["billing/ecr-pull-secret", "plain/own", "shop/ecr-pull-secret"]);
    expect(r.externalSecrets.clusterExternalSecrets).toEqual(["ecr-pull"]);
    const report = clusterReport({ name: "test", region: "us-east-1" }, r);
    expect(report.externalSecrets).toEqual({
      resynced: ["billing/ecr-pull-secret", "plain/own", "shop/ecr-pull-secret"],
      clusterExternalSecrets: ["ecr-pull"],
      failed: [],
    });
  });

  it("a dry run patches nothing and reports what it would re-sync", async () => {
    const api = cluster();
    const r = await apply(api, target({ dryRun: true }));
    expect(api.writes()).toEqual([]);
    expect(r.externalSecrets.resynced).toEqual(["billing/ecr-pull-secret", "plain/own", "shop/ecr-pull-secret"]);
    expect(r.externalSecrets.clusterExternalSecrets).toEqual(["ecr-pull"]);
  });

  it("a refused parent patch fails each child's re-sync with the parent named, and the run", async () => {
    const api = cluster();
    api.faults.push((call) =>
      call.method === "patchClusterExternalSecret" ? forbidden("ecr-token-rotator", call.verb, call.resource, undefined, call.name) : undefined,
    );
    const r = await apply(api, target());
    expect(r.ok).toBe(false);
    expect(r.externalSecrets.resynced).toEqual(["plain/own"]);
    expect(r.externalSecrets.clusterExternalSecrets).toBeUndefined();
    expect(r.externalSecrets.failed.map((f) => f.externalSecret).sort()).toEqual(["billing/ecr-pull-secret", "shop/ecr-pull-secret"]);
    for (const f of r.externalSecrets.failed) expect(f.reason).toMatch(/^ClusterExternalSecret ecr-pull: .*(403|forbidden)/i);
    for (const ns of ["shop", "billing"]) expect(api.externalSecrets.get(`${ns}/ecr-pull-secret`)!.metadata.annotations).toEqual({ team: "platform" });
  });
});

/** The pull Secret ESO wrote in `namespace`, owned by the ExternalSecret `owner` (its owner reference). */
function esoSecret(api: FakeKubeApi, namespace: string, owner: string): void {
  api.putSecret({
    metadata: {
      name: "ecr-pull-secret",
      namespace,
      labels: { "reconcile.external-secrets.io/managed": "true" },
      ownerReferences: [{ apiVersion: "external-secrets.io/v1", kind: "ExternalSecret", name: owner, uid: `es-${namespace}`, controller: true }],
    },
    type: "kubernetes.io/dockerconfigjson",
    data: { ".dockerconfigjson": Buffer.from(JSON.stringify({ auths: {} })).toString("base64") },
  });
}

describe("a pull Secret owned by a ClusterExternalSecret's child: the owner is re-synced through the parent whatever ESO_RESYNC says", () => {
  /** cluster() with the pull Secret ESO writes in each namespace (the fallback's name is ESO's). */
  function owned(): FakeKubeApi {
    const api = cluster();
    for (const ns of ["shop", "billing"]) esoSecret(api, ns, "ecr-pull-secret");
    esoSecret(api, "plain", "own");
    return api;
  }
  const esoOwned = { pullSecretName: "ecr-pull-secret" };

  it.each([
    ["ESO_RESYNC off", {}],
    ["ESO_RESYNC selecting none of them", { esoResync: { labelSelector: "resync=never" } }],
  ] as const)("%s: the parent is patched once, its children are not annotated, the standalone owner is", async (_what, over) => {
    const api = owned();
    const t = target({ ...esoOwned, ...over });
    if (!("esoResync" in over)) delete t.esoResync;
    const r = await apply(api, t);
    expect(r.ok).toBe(true);
    expect(r.counts).toMatchObject({ "eso-managed": 3, failed: 0 });
    const cesPatches = api.calls.filter((c) => c.method === "patchClusterExternalSecret");
    expect(cesPatches.map((c) => c.name)).toEqual(["ecr-pull"]);
    expect(cesPatches[0]!.body).toEqual({ spec: { externalSecretMetadata: { annotations: { "force-sync": FORCE_SYNC } } } });
    expect(api.calls.filter((c) => c.method === "patchExternalSecret").map((c) => `${c.namespace}/${c.name}`)).toEqual(["plain/own"]);
    for (const ns of ["shop", "billing"]) expect(api.externalSecrets.get(`${ns}/ecr-pull-secret`)!.metadata.annotations).toEqual({ team: "platform" });
    expect(r.externalSecrets.resynced).toEqual(["billing/ecr-pull-secret", "plain/own", "shop/ecr-pull-secret"]);
    expect(r.externalSecrets.clusterExternalSecrets).toEqual(["ecr-pull"]);
    const row = r.namespaces.find((n) => n.namespace === "shop")!;
    expect(row.reason).toBe(
      "owned by ExternalSecret shop/ecr-pull-secret: not written; ExternalSecret shop/ecr-pull-secret re-synced (force-sync through ClusterExternalSecret ecr-pull)",
    );
    // The owners were looked up by name (one LIST per distinct name), not by listing every ExternalSecret.
    const lookups = api.calls.filter((c) => c.method === "listExternalSecrets" && c.options?.fieldSelector !== undefined);
    expect(lookups.map((c) => c.options!.fieldSelector).sort()).toEqual(["metadata.name=ecr-pull-secret", "metadata.name=own"]);
  });

  it("a dry run patches nothing and says it would re-sync through the parent", async () => {
    const api = owned();
    const t = target({ ...esoOwned, dryRun: true });
    delete t.esoResync;
    const r = await apply(api, t);
    expect(api.writes()).toEqual([]);
    expect(r.externalSecrets.clusterExternalSecrets).toEqual(["ecr-pull"]);
    expect(r.namespaces.find((n) => n.namespace === "billing")!.reason).toMatch(/would be re-synced \(force-sync through ClusterExternalSecret ecr-pull\)$/);
  });

  it("when the owner cannot be looked up, the ExternalSecret is annotated directly and the row says why", async () => {
    const api = owned();
    api.faults.push((call) => (call.method === "listExternalSecrets" ? forbidden("ecr-token-rotator", call.verb, call.resource) : undefined));
    const t = target(esoOwned);
    delete t.esoResync;
    const r = await apply(api, t);
    expect(api.calls.filter((c) => c.method === "patchClusterExternalSecret")).toEqual([]);
    expect(
      api.calls
        .filter((c) => c.method === "patchExternalSecret")
        .map((c) => `${c.namespace}/${c.name}`)
        .sort(),
    ).toEqual(["billing/ecr-pull-secret", "plain/own", "shop/ecr-pull-secret"]);
    expect(r.namespaces.find((n) => n.namespace === "shop")!.reason).toMatch(
      /; ExternalSecret shop\/ecr-pull-secret: its owner could not be looked up \(.*(403|forbidden).*\), so it is annotated directly/i,
    );
  });
});
