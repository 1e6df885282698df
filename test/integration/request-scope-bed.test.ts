/**
 * A request can narrow the configured scope, never widen it (issue 19 §2), on real servers: moto
 * and the test bed's kube-apiserver, as the rotator's identity under infra/k8s/components/fallback/rbac.yaml. A heal
 * naming a namespace outside TARGET_NAMESPACES is refused before any write (no secret in Secrets
 * Manager, no pull Secret anywhere); under NAMESPACE_SELECTOR one naming a namespace whose labels
 * do not match writes nothing to the cluster. Checked with kubectl as admin.
 */
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app";
import { parseManualRequest } from "../../src/request/triggers";
import { runRequest } from "../../src/run/run";
import { BadRequestError } from "../../src/shared/errors";
import { startBed, type Bed } from "../bed/index";
import { productEnvForBed } from "../support/bed-env";
import { kubectlJson, motoEcrToken } from "../support/bed-objects";
import { startMoto, type MotoServer } from "../support/moto";

let bed: Bed;
let moto: MotoServer;
let tokenNow: () => Date;
const saved = { ...process.env };

beforeAll(async () => {
  [bed, moto] = await Promise.all([startBed({ rbacManifests: ["infra/k8s/components/fallback/rbac.yaml"] }), startMoto()]);
  Object.assign(process.env, productEnvForBed(bed, moto));
  const token = await motoEcrToken();
  tokenNow = () => token.issued;
  await bed.createNamespace("scope-a", { team: "a" });
  await bed.createNamespace("scope-b", { team: "b" });
}, 600_000);

afterAll(async () => {
  await Promise.all([bed?.stop(), moto?.stop()]);
  process.env = saved;
});

function heal(namespaces: string[], extra: Record<string, string>) {
  const app = createApp(productEnvForBed(bed, moto, { PATCH_SERVICE_ACCOUNTS: "", ESO_RESYNC: "off", ...extra }), { tokenNow });
  return runRequest(parseManualRequest({ action: "heal", namespaces }), app.config, app.deps);
}

async function pullSecretIn(namespace: string): Promise<boolean> {
  return kubectlJson(bed, ["-n", namespace, "get", "secret", "ecr-pull-secret"]).then(
    () => true,
    () => false,
  );
}

describe("a heal naming namespaces outside the configured ones", () => {
  it("TARGET_NAMESPACES=scope-a, heal naming scope-b: refused by name before any write", async () => {
    const sm = new SecretsManagerClient({ region: "us-east-1", endpoint: moto.url });
    const run = heal(["scope-b"], { TARGET_NAMESPACES: "scope-a", EXCLUDE_NAMESPACES: "", SECRET_NAME: "scope/target-list" });
    await expect(run).rejects.toThrow(BadRequestError);
    await expect(run).rejects.toThrow(/namespace "scope-b" outside the configured namespaces \(TARGET_NAMESPACES="scope-a"\)/);
    await expect(sm.send(new GetSecretValueCommand({ SecretId: "scope/target-list" }))).rejects.toThrow(/can't find|not found|ResourceNotFound/i);
    expect(await pullSecretIn("scope-b")).toBe(false);
  });

  it("NAMESPACE_SELECTOR=team=a, heal naming scope-a and scope-b: the cluster is refused, nothing written to it", async () => {
    const report = await heal(["scope-a", "scope-b"], {
      TARGET_NAMESPACES: "",
      EXCLUDE_NAMESPACES: "",
      NAMESPACE_SELECTOR: "team=a",
      SECRET_NAME: "scope/selector",
    });
    expect(report.ok).toBe(false);
    const cluster = report.kubernetes!.clusters[0]!;
    expect(cluster.outOfScope).toEqual(["scope-b"]);
    expect(cluster.error).toMatch(/namespace "scope-b" outside the configured namespaces \(NAMESPACE_SELECTOR="team=a"\)/);
    expect(await pullSecretIn("scope-a")).toBe(false);
    expect(await pullSecretIn("scope-b")).toBe(false);
  });

  it("NAMESPACE_SELECTOR=team=a, heal naming scope-a: written there only", async () => {
    const report = await heal(["scope-a"], { TARGET_NAMESPACES: "", EXCLUDE_NAMESPACES: "", NAMESPACE_SELECTOR: "team=a", SECRET_NAME: "scope/selector-ok" });
    expect(report.ok).toBe(true);
    expect(report.kubernetes!.clusters[0]!.namespaces.map((n) => [n.namespace, n.outcome])).toEqual([["scope-a", "created"]]);
    expect(await pullSecretIn("scope-a")).toBe(true);
    expect(await pullSecretIn("scope-b")).toBe(false);
  });
});
