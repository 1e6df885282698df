/**
 * `heal --dry-run` with a cluster configured (issue 9 item 5), on the real kube-apiserver behind
 * the fault proxy and moto: the Report lists every write the heal would make — the secret it
 * would create in Secrets Manager, per namespace the pull secret it would create or update, the
 * ServiceAccounts it would patch, the ExternalSecrets it would annotate — and nothing is written:
 * the proxy sees only GET requests, Secrets Manager holds no secret, kubectl sees no change.
 */
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Report } from "../../src/report/report";
import { startBed, type Bed } from "../bed/index";
import { PRODUCT_MANIFESTS } from "../bed/product-manifests";
import { BED_ECR_HOST, productEnvForBed } from "../support/bed-env";
import { applyItems, externalSecretManifest, kubectlJson, login, MANAGED_BY, motoEcrToken, pullSecretManifest } from "../support/bed-objects";
import { bundleCli } from "../support/cli-bundle";
import { startMoto, type MotoServer } from "../support/moto";

let bed: Bed;
let moto: MotoServer;
let cli: string;
let outdir: string;
let now: string;
const saved = { ...process.env };
const STALE = { [BED_ECR_HOST]: login("AWS", "stale-password") };

function runCli(args: string[], extra: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args, "--now", now],
      { env: { PATH: process.env.PATH ?? "", ...productEnvForBed(bed, moto, extra) } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  outdir = mkdtempSync(join(tmpdir(), "dry-run-bed-"));
  [bed, moto, cli] = await Promise.all([startBed({ rbacManifests: PRODUCT_MANIFESTS }), startMoto(), bundleCli(outdir)]);
  Object.assign(process.env, productEnvForBed(bed, moto));
  now = (await motoEcrToken()).issued.toISOString();
  for (const ns of ["team-a", "team-b"]) await bed.createNamespace(ns);
  await applyItems(bed, [
    // team-b: our pull secret with a stale token → would be updated in place.
    pullSecretManifest("team-b", STALE, { labels: MANAGED_BY }),
    externalSecretManifest("team-a", "ecr-pull", { labels: { "ecr-token-rotator/resync": "true" } }),
  ]);
}, 600_000);

afterAll(async () => {
  await Promise.all([bed?.stop(), moto?.stop()]);
  if (outdir) rmSync(outdir, { recursive: true, force: true });
  process.env = saved;
});

describe("heal --dry-run with a cluster configured", () => {
  it("lists every write the heal would make and makes none (zero non-GET requests at the API server, no secret in Secrets Manager)", async () => {
    const before = {
      b: await kubectlJson(bed, ["-n", "team-b", "get", "secret", "ecr-pull-secret"]),
      es: await kubectlJson(bed, ["-n", "team-a", "get", "externalsecret", "ecr-pull"]),
    };
    bed.proxy.resetCounts();
    const out = await runCli(["heal", "--dry-run", "--json"], {
      TARGET_NAMESPACES: "team-a,team-b",
      EXCLUDE_NAMESPACES: "",
      ESO_RESYNC: "ecr-token-rotator/resync=true",
    });
    expect(out.stderr).not.toMatch(/no registry logins/);
    expect(out.code).toBe(0);
    const report = JSON.parse(out.stdout) as Report;
    expect(report).toMatchObject({ ok: true, action: "heal", dryRun: true });
    expect(report.registries[0]).toMatchObject({ registry: BED_ECR_HOST, outcome: "would-create" });

    const cluster = report.kubernetes!.clusters[0]!;
    expect(cluster.ok).toBe(true);
    expect(cluster.namespaces).toEqual([
      { namespace: "team-a", outcome: "would-create", serviceAccountsPatched: ["default"] },
      { namespace: "team-b", outcome: "would-update", serviceAccountsPatched: ["default"] },
    ]);
    expect(cluster.serviceAccounts!.patched).toEqual(["team-a/default", "team-b/default"]);
    expect(cluster.externalSecrets!.resynced).toEqual(["team-a/ecr-pull"]);
    expect(cluster.notes!.join("\n")).toMatch(/would be created/);

    // Nothing was written: only reads reached the API server …
    const requests = bed.proxy.requests();
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((r) => r.method !== "GET")).toEqual([]);
    // … Secrets Manager holds no secret …
    await expect(new SecretsManagerClient({ region: "us-east-1" }).send(new GetSecretValueCommand({ SecretId: "production/ecr/credentials" }))).rejects.toThrow(
      /can't find|not found|ResourceNotFound/i,
    );
    // … and kubectl (as admin) sees every object as it was.
    expect((await bed.kubectl(["-n", "team-a", "get", "secret", "ecr-pull-secret"])).code).not.toBe(0);
    const after = {
      b: await kubectlJson(bed, ["-n", "team-b", "get", "secret", "ecr-pull-secret"]),
      es: await kubectlJson(bed, ["-n", "team-a", "get", "externalsecret", "ecr-pull"]),
    };
    expect(after.b.metadata.resourceVersion).toBe(before.b.metadata.resourceVersion);
    expect(after.es.metadata.resourceVersion).toBe(before.es.metadata.resourceVersion);
    expect(after.es.metadata.annotations?.["force-sync"]).toBeUndefined();
    for (const ns of ["team-a", "team-b"]) expect((await kubectlJson(bed, ["-n", ns, "get", "serviceaccount", "default"])).imagePullSecrets).toBeUndefined();
  });

  it("the human report lists each write it would make", async () => {
    bed.proxy.resetCounts();
    const out = await runCli(["heal", "--dry-run"], {
      TARGET_NAMESPACES: "team-a,team-b",
      EXCLUDE_NAMESPACES: "",
      ESO_RESYNC: "ecr-token-rotator/resync=true",
    });
    expect(out.code).toBe(0);
    expect(out.stdout).toContain("DRY RUN (nothing written)");
    expect(out.stdout).toMatch(/would create\s+production\/ecr\/credentials|production\/ecr\/credentials\s+would create/);
    for (const line of [
      "dry run (test-cluster): 5 Kubernetes writes would be made:",
      "  would create the pull secret in team-a",
      "  would update the pull secret in team-b (in place)",
      "  would patch ServiceAccount team-a/default (imagePullSecrets)",
      "  would patch ServiceAccount team-b/default (imagePullSecrets)",
      "  would annotate ExternalSecret team-a/ecr-pull (force-sync)",
    ])
      expect(out.stdout).toContain(line);
    // Reads were recorded (an empty log would pass the check below whatever was written).
    const requests = bed.proxy.requests();
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((r) => r.method !== "GET")).toEqual([]);
  });

  it("the same heal without --dry-run then makes exactly those writes", async () => {
    const out = await runCli(["heal", "--json"], { TARGET_NAMESPACES: "team-a,team-b", EXCLUDE_NAMESPACES: "", ESO_RESYNC: "ecr-token-rotator/resync=true" });
    expect(out.code).toBe(0);
    const cluster = (JSON.parse(out.stdout) as Report).kubernetes!.clusters[0]!;
    expect(cluster.namespaces.map((n) => [n.namespace, n.outcome])).toEqual([
      ["team-a", "created"],
      ["team-b", "updated"],
    ]);
    expect(cluster.externalSecrets!.resynced).toEqual(["team-a/ecr-pull"]);
    expect((await kubectlJson(bed, ["-n", "team-a", "get", "serviceaccount", "default"])).imagePullSecrets).toEqual([{ name: "ecr-pull-secret" }]);
  });
});
