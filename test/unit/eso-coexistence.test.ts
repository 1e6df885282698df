/**
 * Coexistence with External Secrets Operator and conflicts that do not fail a run:
 * - a Secret ESO owns (owner reference to an ExternalSecret, or ESO's managed label) is never
 *   written; its ExternalSecret is re-synced (force-sync) whatever ESO_RESYNC says, and the
 *   namespace reports `eso-managed`;
 * - a foreign Secret of that name (or another type) is a `conflict`: reported (Report, the
 *   NamespacesInConflict metric, the summary line), never written, and the run stays ok;
 * - real failures (403) still fail it.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clusterReport } from "../../src/clusters/step";
import { applyToCluster, type ClusterTarget } from "../../src/kube/apply";
import { decideSecret, DOCKERCONFIGJSON_KEY, DOCKERCONFIGJSON_TYPE, esoOwnership, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "../../src/kube/decide";
import type { KubeSecret } from "../../src/kube/types";
import type { Report } from "../../src/report/report";
import { createApp } from "../../src/app/app";
import type { EcrApi } from "../../src/rotation/ecr";
import { runRequest, type KubernetesStep } from "../../src/run/run";
import { powertoolsTelemetry } from "../../src/run/telemetry";
import { parseManualRequest } from "../../src/request/triggers";
import { emptySecrets } from "../support/aws-fakes";
import { authorizationData, clusterTarget as target, NOW } from "../support/fixtures";
import { FakeKubeApi, forbidden } from "../support/kube-fake-api";

const ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const PASSWORD = "eso-coexistence-test-password-0123456789";
const login = { host: ECR, username: "AWS", password: PASSWORD };
const now = () => new Date("2026-11-24T08:00:00Z");
const FORCE_SYNC = String(Date.parse("2026-11-24T08:00:00Z") / 1000);
const ESO_DATA = {
  [DOCKERCONFIGJSON_KEY]: Buffer.from(JSON.stringify({ auths: { [ECR]: { username: "AWS", password: "written-by-eso", auth: "x" } } })).toString("base64"),
};

const esoOwned = (namespace: string, owner: string): KubeSecret => ({
  metadata: {
    name: "ecr-pull-secret",
    namespace,
    labels: { "reconcile.external-secrets.io/managed": "true" },
    ownerReferences: [{ apiVersion: "external-secrets.io/v1", kind: "ExternalSecret", name: owner, uid: "0000-1111", controller: true }],
  },
  type: DOCKERCONFIGJSON_TYPE,
  data: ESO_DATA,
});

/** A cluster where ESO already runs: one owned Secret, one labelled only, a foreign one, an empty namespace. */
function clusterWithEso(): FakeKubeApi {
  const api = new FakeKubeApi();
  for (const ns of ["owned", "labelled", "foreign", "fresh", "opaque"]) api.addNamespace(ns);
  api.putExternalSecret({ metadata: { name: "ecr-pull", namespace: "owned" }, spec: { target: { name: "ecr-pull-secret" } } });
  api.putSecret(esoOwned("owned", "ecr-pull"));
  // ESO's label without an owner reference (creationPolicy Merge/Orphan): the ExternalSecret
  // writing it is found by its target name.
  api.putExternalSecret({ metadata: { name: "pull-creds", namespace: "labelled" }, spec: { target: { name: "ecr-pull-secret" } } });
  api.putExternalSecret({ metadata: { name: "unrelated", namespace: "labelled" }, spec: { target: { name: "something-else" } } });
  api.putSecret({
    metadata: { name: "ecr-pull-secret", namespace: "labelled", labels: { "reconcile.external-secrets.io/managed": "true" } },
    type: DOCKERCONFIGJSON_TYPE,
    data: ESO_DATA,
  });
  api.putSecret({ metadata: { name: "ecr-pull-secret", namespace: "foreign" }, type: DOCKERCONFIGJSON_TYPE, data: ESO_DATA });
  api.putSecret({ metadata: { name: "ecr-pull-secret", namespace: "opaque" }, type: "Opaque", data: { token: "a2VlcA==" } });
  return api;
}

const apply = (api: FakeKubeApi, t: ClusterTarget) =>
  applyToCluster({ server: "https://127.0.0.1:1", caData: "", token: "t" }, [login], t, { api, now, sleep: async () => undefined });

describe("who owns a pull secret", () => {
  it("an owner reference to an ExternalSecret, or ESO's managed label, makes it ESO's", () => {
    expect(esoOwnership(esoOwned("a", "es"))).toEqual({ owner: "es" });
    expect(esoOwnership({ metadata: { name: "s", labels: { "reconcile.external-secrets.io/managed": "true" } } })).toEqual({});
    expect(esoOwnership({ metadata: { name: "s", labels: { "reconcile.external-secrets.io/managed": "false" } } })).toBeUndefined();
    expect(esoOwnership({ metadata: { name: "s", ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: "d" }] } })).toBeUndefined();
    expect(esoOwnership({ metadata: { name: "s", labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } } })).toBeUndefined();
  });

  it("an ESO-owned Secret is never written: not with adoptUnmanaged, not when it carries our label, not when its type differs", () => {
    const base = { namespace: "a", name: "ecr-pull-secret", logins: [login] };
    expect(decideSecret({ ...base, existing: esoOwned("a", "es"), adoptUnmanaged: true })).toEqual({ action: "eso-managed", owner: "es" });
    const labelledBoth = esoOwned("a", "es");
    labelledBoth.metadata.labels![MANAGED_BY_LABEL] = MANAGED_BY_VALUE;
    expect(decideSecret({ ...base, existing: labelledBoth, adoptUnmanaged: false }).action).toBe("eso-managed");
    expect(decideSecret({ ...base, existing: { ...esoOwned("a", "es"), type: "Opaque" }, adoptUnmanaged: false }).action).toBe("eso-managed");
  });
});

describe("heal where ESO already runs (fake API)", () => {
  it("ESO's Secrets are left alone and their ExternalSecrets re-synced with ESO_RESYNC off; conflicts reported; the cluster is ok", async () => {
    const api = clusterWithEso();
    const before = { owned: structuredClone(api.secrets.get("owned/ecr-pull-secret")), labelled: structuredClone(api.secrets.get("labelled/ecr-pull-secret")) };
    const r = await apply(api, target());
    const rows = Object.fromEntries(r.namespaces.map((n) => [n.namespace, n]));
    expect(rows.owned).toMatchObject({ outcome: "eso-managed", externalSecret: "owned/ecr-pull" });
    expect(rows.owned!.reason).toBe("owned by ExternalSecret owned/ecr-pull: not written; ExternalSecret owned/ecr-pull re-synced (force-sync)");
    expect(rows.labelled).toMatchObject({ outcome: "eso-managed", externalSecret: "labelled/pull-creds" });
    expect(rows.foreign!.outcome).toBe("conflict");
    expect(rows.opaque!.outcome).toBe("conflict");
    expect(rows.fresh!.outcome).toBe("created");
    expect(r.counts).toMatchObject({ "eso-managed": 2, conflict: 2, created: 1, failed: 0 });
    expect(r.ok).toBe(true);

    // Nothing written to ESO's Secrets or the foreign ones; only the new namespace got one.
    expect(api.secrets.get("owned/ecr-pull-secret")).toEqual(before.owned);
    expect(api.secrets.get("labelled/ecr-pull-secret")).toEqual(before.labelled);
    const secretWrites = api.writes().filter((c) => c.resource === "secrets");
    expect(secretWrites.map((c) => c.namespace)).toEqual(["fresh"]);
    // The owners were asked to re-sync; the unrelated ExternalSecret was not.
    expect(r.externalSecrets.resynced).toEqual(["labelled/pull-creds", "owned/ecr-pull"]);
    expect(api.externalSecrets.get("owned/ecr-pull")!.metadata.annotations).toEqual({ "force-sync": FORCE_SYNC });
    expect(api.externalSecrets.get("labelled/pull-creds")!.metadata.annotations).toEqual({ "force-sync": FORCE_SYNC });
    expect(api.externalSecrets.get("labelled/unrelated")!.metadata.annotations).toBeUndefined();

    const report = clusterReport({ name: "test", region: "us-east-1" }, r);
    expect(report.ok).toBe(true);
    expect(report.error).toBeUndefined();
    expect(report.externalSecrets).toEqual({ resynced: ["labelled/pull-creds", "owned/ecr-pull"], failed: [] });
    expect(report.notes!.join("\n")).toMatch(/2 namespaces in conflict: .*this does not fail the run/);
  });

  it("with ESO_RESYNC too, an owner is patched once; a dry run patches nothing and says what it would do", async () => {
    const api = clusterWithEso();
    api.externalSecrets.get("owned/ecr-pull")!.metadata.labels = { resync: "yes" };
    const r = await apply(api, target({ esoResync: { labelSelector: "resync=yes" } }));
    expect(
      api.calls
        .filter((c) => c.method === "patchExternalSecret")
        .map((c) => `${c.namespace}/${c.name}`)
        .sort(),
    ).toEqual(["labelled/pull-creds", "owned/ecr-pull"]);
    expect(r.ok).toBe(true);

    const dry = clusterWithEso();
    const d = await apply(dry, target({ dryRun: true }));
    expect(dry.writes()).toEqual([]);
    expect(d.namespaces.find((n) => n.namespace === "owned")!.reason).toMatch(/ExternalSecret owned\/ecr-pull would be re-synced/);
  });

  it("an ESO-labelled Secret that no ExternalSecret writes is a conflict: reported, not written, and not a failure", async () => {
    const api = new FakeKubeApi();
    api.addNamespace("orphan");
    api.putSecret({
      metadata: { name: "ecr-pull-secret", namespace: "orphan", labels: { "reconcile.external-secrets.io/managed": "true" } },
      type: DOCKERCONFIGJSON_TYPE,
      data: ESO_DATA,
    });
    const r = await apply(api, target());
    expect(r.namespaces[0]).toMatchObject({ outcome: "conflict" });
    expect(r.namespaces[0]!.reason).toMatch(
      /labelled reconcile.external-secrets.io\/managed=true but no ExternalSecret in the namespace writes it: no live ESO owner/,
    );
    expect(r.counts).toMatchObject({ conflict: 1, "eso-managed": 0 });
    expect(api.writes()).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it("a re-sync the API refuses (403) is a real failure", async () => {
    const api = clusterWithEso();
    api.faults.push((call) =>
      call.method === "patchExternalSecret" ? forbidden("ecr-token-rotator", call.verb, call.resource, call.namespace, call.name) : undefined,
    );
    const r = await apply(api, target());
    expect(r.externalSecrets.failed.map((f) => f.externalSecret).sort()).toEqual(["labelled/pull-creds", "owned/ecr-pull"]);
    expect(r.namespaces.find((n) => n.namespace === "owned")!.reason).toMatch(/re-sync of ExternalSecret owned\/ecr-pull failed: forbidden \(403\)/);
    expect(r.ok).toBe(false);
  });

  it("a 403 on a namespace's write still fails the cluster, next to a conflict", async () => {
    const api = clusterWithEso();
    api.faults.push((call) =>
      call.method === "createSecret" ? forbidden("ecr-token-rotator", call.verb, call.resource, call.namespace, call.name) : undefined,
    );
    const r = await apply(api, target());
    expect(r.namespaces.find((n) => n.namespace === "fresh")!.outcome).toBe("failed");
    const report = clusterReport({ name: "test", region: "us-east-1" }, r);
    expect(report.ok).toBe(false);
    expect(report.error).toBe("1 namespace failed");
  });
});

describe("a conflict does not fail the invocation", () => {
  const ecr: EcrApi = { getAuthorizationToken: async (region) => [authorizationData(region)] };
  const secrets = emptySecrets();
  const run = async (step: KubernetesStep): Promise<Report> => {
    const app = createApp({ AWS_REGION: "us-east-1", EKS_CLUSTERS: "prod" });
    return runRequest(parseManualRequest({ action: "heal" }), app.config, { ...app.deps, ecr, secrets, now: () => NOW, kubernetes: async () => step });
  };

  it("heal: conflict and eso-managed namespaces → the Report is ok; a failed namespace → not ok", async () => {
    const api = clusterWithEso();
    const result = await apply(api, target());
    const cluster = clusterReport({ name: "prod", region: "us-east-1" }, result);
    const ok = await run(async () => ({ mode: "applied", clusters: [cluster] }));
    expect(ok.ok).toBe(true);
    expect(ok.errors).toEqual([]);

    const failed = await run(async () => ({
      mode: "applied",
      clusters: [
        {
          ...cluster,
          ok: false,
          error: "1 namespace failed",
          namespaces: [...cluster.namespaces, { namespace: "x", outcome: "failed", reason: "forbidden (403)" }],
        },
      ],
    }));
    expect(failed.ok).toBe(false);
  });

  describe("telemetry", () => {
    let out = "";
    const write = process.stdout.write.bind(process.stdout);
    beforeEach(() => {
      out = "";
      process.stdout.write = (chunk: string | Uint8Array) => {
        out += chunk.toString();
        return true;
      };
    });
    afterEach(() => {
      process.stdout.write = write;
    });

    it("the summary line counts conflicts and ESO-managed namespaces; NamespacesInConflict is its own metric, not NamespacesFailed", async () => {
      const api = clusterWithEso();
      const cluster = clusterReport({ name: "prod", region: "us-east-1" }, await apply(api, target()));
      const report = await run(async () => ({ mode: "applied", clusters: [cluster] }));
      powertoolsTelemetry().reportFinished(report);
      const lines = out
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const summary = lines.find((l) => l.message === "invocation summary")!;
      expect(summary.level).toBe("INFO");
      expect(summary.namespacesInConflict).toBe(2);
      expect(summary.namespacesByOutcome).toEqual({ "eso-managed": 2, conflict: 2, created: 1 });
      const emf = lines.find((l) => "_aws" in l)!;
      expect(emf.NamespacesInConflict).toBe(2);
      expect(emf.NamespacesFailed).toBe(0);
      expect(emf.NamespacesEsoManaged).toBe(2);
      expect(emf.RotationSucceeded).toBe(1);
      expect(out).not.toContain(PASSWORD);
    });
  });
});
