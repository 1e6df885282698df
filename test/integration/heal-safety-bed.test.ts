/**
 * A heal on real servers (moto + the real kube-apiserver behind the fault proxy, authorised only
 * by infra/k8s/components/fallback/rbac.yaml) where a first real day goes wrong:
 * - ESO already runs: the pull secret of a namespace is owned by a real ExternalSecret object
 *   (owner reference with its uid). The heal never writes it, annotates the ExternalSecret with
 *   force-sync although ESO_RESYNC is off, and reports `eso-managed`. A foreign Secret of the
 *   same name is a `conflict`: reported, untouched, and the invocation does NOT fail.
 * - The cluster hangs: the fault proxy delays every request far past the invocation, or trickles
 *   the answer a byte at a time. The handler (a Lambda context whose remaining time runs out)
 *   and the CLI (--timeout) still return a Report before their time is up, with the cluster
 *   `skipped: deadline`, and fail; in a fleet worked on one cluster at a time, the clusters still
 *   waiting behind the hanging one are skipped without being contacted.
 * State is checked independently with kubectl as admin.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Context } from "aws-lambda";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createHandler } from "../../handlers/rotate";
import { createApp } from "../../src/app/app";
import type { Report } from "../../src/report/report";
import type { Telemetry } from "../../src/run/telemetry";
import { DEFAULT_IDENTITIES, FaultProxy, startBed, type Bed } from "../bed/index";
import { PRODUCT_MANIFESTS } from "../bed/product-manifests";
import { BED_ECR_HOST, productEnvForBed } from "../support/bed-env";
import { applyItems, externalSecretManifest, kubectlJson, login, motoEcrToken, opaqueSecretManifest, pullSecretManifest } from "../support/bed-objects";
import { startMoto, type MotoServer } from "../support/moto";
import { bundleCli } from "../support/cli-bundle";

let bed: Bed;
let moto: MotoServer;
let tokenNow: () => Date;
let motoPassword: string;
/** The CLI bundled privately (dist/ may be rebuilt by concurrent runs). */
let cliRunner: string;
const logged: string[] = [];
const saved = { ...process.env };
const NAMESPACES = ["eso-owned", "eso-labelled", "foreign", "opaque", "fresh"];

function env(extra: Record<string, string> = {}): Record<string, string> {
  return productEnvForBed(bed, moto, {
    TARGET_NAMESPACES: NAMESPACES.join(","),
    EXCLUDE_NAMESPACES: "",
    ESO_RESYNC: "off",
    PATCH_SERVICE_ACCOUNTS: "",
    ...extra,
  });
}

interface Finished {
  report: Report;
  failed: boolean;
  tookMs: number;
  summaries: Report[];
}

/** The handler, with a Lambda context whose remaining time counts down from `remainingMs`. */
async function invoke(event: unknown, remainingMs: number, extra: Record<string, string> = {}): Promise<Finished> {
  const summaries: Report[] = [];
  const telemetry = (): Telemetry => ({
    invocationStarted() {},
    reportFinished(report) {
      summaries.push(report);
      logged.push(JSON.stringify(report));
    },
    reportRejected(error) {
      logged.push(String(error));
    },
  });
  const app = createApp(env(extra), { tokenNow, kubernetes: { apply: { retry: { baseDelayMs: 20, maxDelayMs: 200, maxRetryAfterMs: 1500 } } } });
  const end = Date.now() + remainingMs;
  const context = { getRemainingTimeInMillis: () => Math.max(0, end - Date.now()), awsRequestId: "bed" } as unknown as Context;
  const started = Date.now();
  try {
    const report = await createHandler(() => app, telemetry)(event, context);
    return { report, failed: false, tookMs: Date.now() - started, summaries };
  } catch (error) {
    const report = (error as { report?: Report }).report;
    if (report === undefined) throw error;
    return { report, failed: true, tookMs: Date.now() - started, summaries };
  }
}

const ecrAuths = (password: string) => ({ [BED_ECR_HOST]: login("AWS", password) });

beforeAll(async () => {
  [bed, moto] = await Promise.all([startBed({ rbacManifests: PRODUCT_MANIFESTS }), startMoto()]);
  cliRunner = await bundleCli(join(bed.dir, "cli-bundle"));
  Object.assign(process.env, env());
  const token = await motoEcrToken();
  motoPassword = token.password;
  tokenNow = () => token.issued;
  for (const ns of NAMESPACES) await bed.createNamespace(ns);

  // ExternalSecrets that write the product's Secret name, as a team migrating to ESO has them.
  const target = { name: "ecr-pull-secret", template: { type: "kubernetes.io/dockerconfigjson" } };
  await applyItems(bed, [externalSecretManifest("eso-owned", "ecr-pull", { target }), externalSecretManifest("eso-labelled", "ecr-pull-merge", { target })]);
  const owner = await kubectlJson(bed, ["-n", "eso-owned", "get", "externalsecret", "ecr-pull"]);
  const esoManaged = { "reconcile.external-secrets.io/managed": "true" };
  await applyItems(bed, [
    // What ESO writes with creationPolicy Owner: its label and a controller owner reference.
    pullSecretManifest("eso-owned", ecrAuths("written-by-eso"), {
      labels: esoManaged,
      ownerReferences: [
        { apiVersion: "external-secrets.io/v1", kind: "ExternalSecret", name: "ecr-pull", uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true },
      ],
    }),
    // creationPolicy Merge/Orphan: ESO's label only.
    pullSecretManifest("eso-labelled", ecrAuths("merged-by-eso"), { labels: esoManaged }),
    // Someone else's pull secret of the same name, and one of another type.
    pullSecretManifest("foreign", ecrAuths("hand-made")),
    opaqueSecretManifest("opaque"),
  ]);
}, 600_000);

afterAll(async () => {
  await Promise.all([bed?.stop(), moto?.stop()]);
  process.env = saved;
});

afterEach(() => bed.proxy.clearFaults());

describe("heal where ESO already runs", () => {
  it("ESO's Secrets are never written and their ExternalSecrets are re-synced (ESO_RESYNC off); conflicts are reported and do not fail the invocation", async () => {
    const before = {
      owned: await kubectlJson(bed, ["-n", "eso-owned", "get", "secret", "ecr-pull-secret"]),
      labelled: await kubectlJson(bed, ["-n", "eso-labelled", "get", "secret", "ecr-pull-secret"]),
      foreign: await kubectlJson(bed, ["-n", "foreign", "get", "secret", "ecr-pull-secret"]),
      opaque: await kubectlJson(bed, ["-n", "opaque", "get", "secret", "ecr-pull-secret"]),
    };
    bed.proxy.resetCounts();
    const { report, failed, summaries } = await invoke({ action: "heal" }, 60_000);
    expect(failed).toBe(false);
    expect(report.ok).toBe(true);
    expect(summaries).toHaveLength(1);
    const cluster = report.kubernetes!.clusters[0]!;
    const rows = Object.fromEntries(cluster.namespaces.map((n) => [n.namespace, n]));
    expect(rows["eso-owned"]).toMatchObject({ outcome: "eso-managed" });
    expect(rows["eso-owned"]!.reason).toMatch(/owned by ExternalSecret eso-owned\/ecr-pull: not written; ExternalSecret eso-owned\/ecr-pull re-synced/);
    expect(rows["eso-labelled"]!.outcome).toBe("eso-managed");
    expect(rows["eso-labelled"]!.reason).toMatch(/ExternalSecret eso-labelled\/ecr-pull-merge re-synced/);
    expect(rows.foreign!.outcome).toBe("conflict");
    expect(rows.opaque!.outcome).toBe("conflict");
    expect(rows.fresh!.outcome).toBe("created");
    expect(cluster.ok).toBe(true);
    expect(cluster.notes!.join("\n")).toMatch(/2 namespaces in conflict/);
    expect(cluster.externalSecrets!.resynced).toEqual(["eso-labelled/ecr-pull-merge", "eso-owned/ecr-pull"]);

    // Independently, as admin: ESO's and the foreign Secrets are exactly as they were.
    for (const [ns, was] of Object.entries({ "eso-owned": before.owned, "eso-labelled": before.labelled, foreign: before.foreign, opaque: before.opaque })) {
      const now = await kubectlJson(bed, ["-n", ns, "get", "secret", "ecr-pull-secret"]);
      expect(now.metadata.resourceVersion).toBe(was.metadata.resourceVersion);
      expect(now.data).toEqual(was.data);
    }
    // The only Secret write went to the namespace without one.
    const secretWrites = bed.proxy.requests().filter((r) => r.method !== "GET" && /\/secrets/.test(r.path));
    expect(secretWrites.map((r) => `${r.method} ${r.path}`)).toEqual(["POST /api/v1/namespaces/fresh/secrets"]);
    const fresh = await kubectlJson(bed, ["-n", "fresh", "get", "secret", "ecr-pull-secret"]);
    expect(JSON.parse(Buffer.from(fresh.data[".dockerconfigjson"], "base64").toString()).auths["123456789012.dkr.ecr.us-east-1.amazonaws.com"].password).toBe(
      motoPassword,
    );
    // ESO was asked to re-sync its owners now.
    for (const [ns, name] of [
      ["eso-owned", "ecr-pull"],
      ["eso-labelled", "ecr-pull-merge"],
    ] as const) {
      const es = await kubectlJson(bed, ["-n", ns, "get", "externalsecret", name]);
      expect(es.metadata.annotations?.["force-sync"]).toMatch(/^\d{10}$/);
    }
  });

  it("a real failure next to the conflicts still fails the invocation (403 on a write)", async () => {
    await bed.kubectl(["-n", "fresh", "delete", "secret", "ecr-pull-secret"], { check: true });
    bed.proxy.failNext(1, 403, { match: { method: "POST", path: "/api/v1/namespaces/fresh/secrets" } });
    const { failed, report } = await invoke({ action: "heal" }, 60_000);
    expect(failed).toBe(true);
    const cluster = report.kubernetes!.clusters[0]!;
    const outcomes = Object.fromEntries(cluster.namespaces.map((n) => [n.namespace, n.outcome]));
    expect(outcomes).toEqual({ "eso-owned": "eso-managed", "eso-labelled": "eso-managed", foreign: "conflict", opaque: "conflict", fresh: "failed" });
    expect(cluster.ok).toBe(false);
    expect(cluster.error).toBe("1 namespace failed");
    expect(cluster.namespaces.find((n) => n.namespace === "fresh")!.reason).toMatch(/forbidden \(403\)/);
  });
});

describe("a hanging cluster meets the invocation's deadline", () => {
  it("every request delayed past the invocation: the Report comes back before the time runs out, the cluster skipped: deadline, the run fails", async () => {
    bed.proxy.latency(120_000);
    bed.proxy.resetCounts();
    const { report, failed, tookMs, summaries } = await invoke({ action: "heal", force: true }, 4_000);
    expect(tookMs).toBeLessThan(4_000);
    expect(failed).toBe(true);
    expect(summaries).toHaveLength(1); // the summary line and the metrics went out
    expect(report.registries[0]!.outcome).not.toBe("failed"); // Secrets Manager was written first
    const cluster = report.kubernetes!.clusters[0]!;
    expect(cluster).toMatchObject({ ok: false, skipped: "deadline" });
    // The namespaces were named (an explicit list): each is reported skipped: deadline.
    expect(cluster.namespaces.map((n) => [n.namespace, n.outcome, n.reason])).toEqual([...NAMESPACES].sort().map((ns) => [ns, "skipped", "deadline"]));
    expect(report.deadline).toMatchObject({ reached: true });
    // Nothing is sent after the deadline.
    const sent = bed.proxy.count();
    await new Promise((r) => setTimeout(r, 500));
    expect(bed.proxy.count()).toBe(sent);
  });

  it("a fleet with KUBE_CLUSTER_CONCURRENCY=1 whose first cluster hangs: the clusters waiting behind the cap are skipped: deadline, never contacted", async () => {
    bed.proxy.latency(120_000);
    // The waiting clusters reach the same API server through a proxy of their own, which counts.
    const pki = join(bed.dir, "pki");
    const waitingProxy = await FaultProxy.start({
      target: bed.apiServerUrl,
      targetCa: bed.caPem,
      tls: { cert: readFileSync(join(pki, "serving.crt")), key: readFileSync(join(pki, "serving.key")) },
      control: false,
    });
    try {
      const clusters = [
        { name: bed.clusterName, region: "us-east-1", endpoint: bed.proxyUrl, caData: bed.caData },
        { name: "waiting-1", region: "us-east-1", endpoint: waitingProxy.url, caData: bed.caData },
        { name: "waiting-2", region: "us-east-1", endpoint: waitingProxy.url, caData: bed.caData },
      ];
      const { report, failed, summaries } = await invoke({ action: "heal" }, 4_000, {
        EKS_CLUSTERS: JSON.stringify(clusters),
        KUBE_CLUSTER_CONCURRENCY: "1",
      });
      expect(failed).toBe(true);
      expect(summaries).toHaveLength(1);
      expect(report.deadline).toMatchObject({ reached: true });
      expect(report.kubernetes!.clusters.map((c) => [c.cluster, c.ok, c.skipped])).toEqual(clusters.map((c) => [c.name, false, "deadline"]));
      for (const waiting of report.kubernetes!.clusters.slice(1)) expect(waiting.error).toMatch(/^skipped: deadline/);
      // Not started: not one request reached the waiting clusters' endpoint.
      expect(waitingProxy.requestCount()).toBe(0);
    } finally {
      await waitingProxy.stop();
    }
  });

  it("an answer that trickles a byte at a time (an idle timer never fires) is cut by the deadline too", async () => {
    bed.proxy.slow(200, { chunkBytes: 1, match: { method: "GET", path: "/api/v1/namespaces" } });
    const { report, failed, tookMs } = await invoke({ action: "heal" }, 4_000, {
      TARGET_NAMESPACES: "*",
      EXCLUDE_NAMESPACES: "kube-system,kube-public,kube-node-lease,default",
    });
    expect(tookMs).toBeLessThan(4_000);
    expect(failed).toBe(true);
    const cluster = report.kubernetes!.clusters[0]!;
    expect(cluster.skipped).toBe("deadline");
    expect(cluster.error).toMatch(/skipped: deadline/);
  });

  it("the CLI: heal --timeout 3 against the hanging cluster prints the Report (skipped: deadline) and exits 1 within the timeout", async () => {
    bed.proxy.latency(120_000);
    const started = Date.now();
    const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [cliRunner, "heal", "--json", "--timeout", "3", "--now", tokenNow().toISOString()],
        { env: { PATH: process.env.PATH ?? "", ...env() } },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
      );
    });
    const tookMs = Date.now() - started;
    logged.push(out.stdout, out.stderr);
    expect(out.code).toBe(1);
    const report = JSON.parse(out.stdout) as Report;
    expect(report.kubernetes!.clusters[0]).toMatchObject({ skipped: "deadline" });
    expect(report.deadline).toMatchObject({ reached: true });
    // Node's start-up and the bundle load come on top of the 3 s.
    expect(tookMs).toBeLessThan(3_000 + 6_000);
  });

  it("no secret material in any Report or log line of the runs above", () => {
    const haystack = logged.join("\n");
    expect(haystack).toContain("eso-managed");
    for (const needle of [
      motoPassword,
      Buffer.from(`AWS:${motoPassword}`).toString("base64"),
      "k8s-aws-v1.",
      DEFAULT_IDENTITIES.rotator.secretAccessKey,
      "written-by-eso",
      "hand-made",
    ]) {
      expect(haystack).not.toContain(needle);
    }
  });
});
