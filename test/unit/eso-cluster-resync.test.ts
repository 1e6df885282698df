/**
 * Re-sync of ExternalSecrets a ClusterExternalSecret owns: the ClusterExternalSecret controller
 * resets its children's annotations, so the heal patches the parent once
 * (spec.externalSecretMetadata.annotations["force-sync"]) instead of annotating each child, and
 * reports the children as re-synced and the parent in `clusterExternalSecrets`.
 */
import { describe, expect, it } from "vitest";
import { clusterReport } from "../../src/clusters/step";
import type { ClusterConfig } from "../../src/config/config";
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
    const report = clusterReport({ name: "test", region: "us-east-1" } as ClusterConfig, r);
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
