/**
 * The full heal path on real servers: a CloudWatch alarm event → the Lambda handler → moto
 * (ECR token, Secrets Manager written first) → the real kube-apiserver through the fault proxy,
 * authenticated by the product's own EKS token (verified by the bed's STS-like webhook) and
 * authorised ONLY by infra/k8s/components/fallback/rbac.yaml. State is checked independently with kubectl as admin.
 */
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { execFile } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHandler } from "../../handlers/rotate";
import { createApp, type App } from "../../src/app/app";
import type { Report } from "../../src/report/report";
import type { Telemetry } from "../../src/run/telemetry";
import { DEFAULT_IDENTITIES, startBed, type Bed } from "../bed/index";
import { PRODUCT_MANIFESTS } from "../bed/product-manifests";
import { BED_ECR_HOST, productEnvForBed } from "../support/bed-env";
import {
  applyItems,
  externalSecretManifest,
  kubectlJson,
  login,
  MANAGED_BY,
  motoEcrToken,
  opaqueSecretManifest,
  pullSecretManifest,
} from "../support/bed-objects";
import { startMoto, type MotoServer } from "../support/moto";
import { startRegistry } from "../support/registry";
import { distEnv } from "../support/dist";

const TEAMS = ["team-a", "team-b", "team-c", "team-d"];
let bed: Bed;
let moto: MotoServer;
let tokenNow: () => Date;
let motoPassword: string;
const logged: string[] = [];
const saved = { ...process.env };

const alarmEvent = (previous = "OK") => ({
  version: "0",
  id: "e1",
  "detail-type": "CloudWatch Alarm State Change",
  source: "aws.cloudwatch",
  account: "123456789012",
  time: "2026-11-24T08:00:00Z",
  region: "us-east-1",
  resources: ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:image-pull-failures"],
  detail: {
    alarmName: "image-pull-failures-test-cluster",
    state: { value: "ALARM", reason: "Threshold Crossed", timestamp: "2026-11-24T08:00:00Z" },
    previousState: { value: previous, reason: "", timestamp: "2026-11-24T07:00:00Z" },
    configuration: {
      metrics: [
        {
          id: "m1",
          metricStat: {
            metric: {
              namespace: "ContainerInsights",
              name: "pod_container_status_waiting_reason_image_pull_error",
              dimensions: { ClusterName: "test-cluster" },
            },
            period: 60,
            stat: "Maximum",
          },
          returnData: true,
        },
      ],
    },
  },
});

function env(extra: Record<string, string> = {}): Record<string, string> {
  return productEnvForBed(bed, moto, { ESO_RESYNC: "ecr-token-rotator/resync=true", ...extra });
}

const quietTelemetry = (): Telemetry => ({
  invocationStarted() {},
  reportFinished(report) {
    logged.push(JSON.stringify(report));
  },
  reportRejected(error) {
    logged.push(String(error));
  },
});

async function heal(event: unknown, extra: Record<string, string> = {}): Promise<{ report: Report; failed: boolean }> {
  const app: App = createApp(env(extra), { tokenNow, kubernetes: { apply: { retry: { baseDelayMs: 20, maxDelayMs: 200, maxRetryAfterMs: 1500 } } } });
  const handler = createHandler(() => app, quietTelemetry);
  try {
    return { report: await handler(event), failed: false };
  } catch (error) {
    const report = (error as { report?: Report }).report;
    if (report === undefined) throw error;
    return { report, failed: true };
  }
}

async function pullSecret(
  namespace: string,
): Promise<{ type: string; labels: Record<string, string>; config: { auths: Record<string, { username: string; password: string; auth: string }> } }> {
  const secret = await kubectlJson(bed, ["-n", namespace, "get", "secret", "ecr-pull-secret"]);
  return { type: secret.type, labels: secret.metadata.labels ?? {}, config: JSON.parse(Buffer.from(secret.data[".dockerconfigjson"], "base64").toString()) };
}

beforeAll(async () => {
  [bed, moto] = await Promise.all([startBed({ rbacManifests: PRODUCT_MANIFESTS }), startMoto()]);
  Object.assign(process.env, env());
  const token = await motoEcrToken();
  motoPassword = token.password;
  tokenNow = () => token.issued;

  for (const ns of TEAMS) await bed.createNamespace(ns);
  await bed.createNamespace("shared");
  await bed.createNamespace("legacy");
  await bed.createNamespace("handmade");
  await bed.createNamespace("locked", { locked: "true" });
  // shared: our managed pull secret already holds another team's registry: it must survive.
  const foreign = { "ghcr.io": login("bot", "their-pat") };
  await applyItems(bed, [
    pullSecretManifest("shared", foreign, { labels: MANAGED_BY }),
    // legacy: same name, wrong type → conflict, untouched
    opaqueSecretManifest("legacy"),
    // handmade: right type, not managed by the product → conflict, untouched
    pullSecretManifest("handmade", foreign),
    // an ExternalSecret to re-sync, and one that does not match the selector
    externalSecretManifest("team-a", "ecr-pull", { labels: { "ecr-token-rotator/resync": "true" } }),
    {
      apiVersion: "external-secrets.io/v1",
      kind: "ExternalSecret",
      metadata: { name: "unrelated", namespace: "team-b" },
      spec: {
        refreshInterval: "1h",
        secretStoreRef: { kind: "ClusterSecretStore", name: "aws" },
        target: { name: "x" },
        data: [{ secretKey: "k", remoteRef: { key: "other" } }],
      },
    },
    // locked: an admission policy forbids writing Secrets there → 403 for the product
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicy",
      metadata: { name: "locked-secrets" },
      spec: {
        failurePolicy: "Fail",
        matchConstraints: {
          resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["secrets"] }],
          namespaceSelector: { matchLabels: { locked: "true" } },
        },
        validations: [{ expression: "false", message: "Secrets are frozen in this namespace", reason: "Forbidden" }],
      },
    },
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicyBinding",
      metadata: { name: "locked-secrets" },
      spec: { policyName: "locked-secrets", validationActions: ["Deny"] },
    },
  ]);
  // Admission policies load asynchronously: wait until the lock is in force.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const probe = await bed.kubectl(["-n", "locked", "create", "secret", "generic", "probe", "--from-literal=a=b", "--dry-run=server"]);
    if (probe.code !== 0 && /frozen/.test(probe.stderr)) break;
    if (Date.now() > deadline) throw new Error(`the admission policy never took effect: ${probe.stdout} ${probe.stderr}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}, 600_000);

afterAll(async () => {
  await Promise.all([bed?.stop(), moto?.stop()]);
  process.env = saved;
});

describe("heal on the real kube-apiserver", () => {
  let first: { report: Report; failed: boolean };

  it("alarm → Secrets Manager first → pull secrets in every namespace → SAs patched → ExternalSecrets re-synced; conflicts and 403 reported; the invocation fails", async () => {
    first = await heal(alarmEvent());
    const { report } = first;
    expect(report.action).toBe("heal");
    expect(report.registries[0]).toMatchObject({ outcome: "created", secretName: "production/ecr/credentials" });
    const stored = JSON.parse(
      (await new SecretsManagerClient({ region: "us-east-1" }).send(new GetSecretValueCommand({ SecretId: "production/ecr/credentials" }))).SecretString!,
    );
    expect(stored.auth_token).toBe(motoPassword);

    const cluster = report.kubernetes!.clusters[0]!;
    const byNs = Object.fromEntries(cluster.namespaces.map((n) => [n.namespace, n]));
    for (const ns of TEAMS) expect(byNs[ns]).toMatchObject({ outcome: "created" });
    expect(byNs.shared).toMatchObject({ outcome: "updated" });
    expect(byNs.legacy).toMatchObject({ outcome: "conflict" });
    expect(byNs.handmade).toMatchObject({ outcome: "conflict" });
    expect(byNs.locked!.outcome).toBe("failed");
    expect(byNs.locked!.reason).toMatch(/forbidden|Forbidden|frozen/);
    expect(byNs["kube-system"]).toBeUndefined();
    expect(cluster.ok).toBe(false);
    expect(first.failed).toBe(true);

    // Independent check with kubectl as admin.
    for (const ns of TEAMS) {
      const secret = await pullSecret(ns);
      expect(secret.type).toBe("kubernetes.io/dockerconfigjson");
      expect(secret.labels["app.kubernetes.io/managed-by"]).toBe("ecr-token-rotator");
      expect(secret.config.auths[BED_ECR_HOST]).toEqual({
        username: "AWS",
        password: motoPassword,
        auth: Buffer.from(`AWS:${motoPassword}`).toString("base64"),
      });
      const sa = await kubectlJson(bed, ["-n", ns, "get", "serviceaccount", "default"]);
      expect(sa.imagePullSecrets).toEqual([{ name: "ecr-pull-secret" }]);
    }
    const shared = await pullSecret("shared");
    expect(Object.keys(shared.config.auths).sort()).toEqual(["ghcr.io", BED_ECR_HOST].sort());
    expect(shared.config.auths["ghcr.io"]!.password).toBe("their-pat");
    const legacy = await kubectlJson(bed, ["-n", "legacy", "get", "secret", "ecr-pull-secret"]);
    expect(legacy.type).toBe("Opaque");
    expect(Buffer.from(legacy.data.token, "base64").toString()).toBe("keep-me");
    expect((await pullSecret("handmade")).config.auths[BED_ECR_HOST]).toBeUndefined();
    expect((await bed.kubectl(["-n", "locked", "get", "secret", "ecr-pull-secret"])).code).not.toBe(0);

    const es = await kubectlJson(bed, ["-n", "team-a", "get", "externalsecret", "ecr-pull"]);
    expect(es.metadata.annotations["force-sync"]).toMatch(/^\d{10}$/);
    const unrelated = await kubectlJson(bed, ["-n", "team-b", "get", "externalsecret", "unrelated"]);
    expect(unrelated.metadata.annotations?.["force-sync"]).toBeUndefined();
  });

  it("the pull secret written into the cluster authenticates skopeo against a real registry", async () => {
    const registry = await startRegistry({ users: [{ username: "AWS", password: motoPassword }] });
    try {
      const entry = (await pullSecret("team-c")).config.auths[BED_ECR_HOST];
      const result = await registry.skopeoInspect(registry.writeAuthFile(JSON.stringify({ auths: { [registry.host]: entry } })));
      expect(result.ok).toBe(true);
    } finally {
      await registry.stop();
    }
  });

  it("steady state: nothing to change → no writes, only a handful of cluster-wide LISTs", async () => {
    bed.proxy.resetCounts();
    const { report } = await heal(alarmEvent("INSUFFICIENT_DATA"), { TARGET_NAMESPACES: TEAMS.join(","), EXCLUDE_NAMESPACES: "", ESO_RESYNC: "off" });
    expect(report.kubernetes!.clusters[0]!.namespaces.map((n) => n.outcome)).toEqual(TEAMS.map(() => "unchanged"));
    const requests = bed.proxy.requests();
    expect(requests.filter((r) => r.method !== "GET")).toEqual([]);
    expect(requests.length).toBeLessThanOrEqual(6);
  });

  it("429 with Retry-After, 503s and dropped connections are retried until every namespace is done", async () => {
    await bed.kubectl(["-n", "team-d", "delete", "secret", "ecr-pull-secret"], { check: true });
    await bed.kubectl(["-n", "team-c", "delete", "secret", "ecr-pull-secret"], { check: true });
    bed.proxy.resetCounts();
    bed.proxy.throttle(2, 1);
    bed.proxy.failNext(2, 503);
    bed.proxy.dropNext(1);
    const { report, failed } = await heal(alarmEvent(), { TARGET_NAMESPACES: TEAMS.join(","), EXCLUDE_NAMESPACES: "" });
    bed.proxy.clearFaults();
    expect(failed).toBe(false);
    const outcomes = Object.fromEntries(report.kubernetes!.clusters[0]!.namespaces.map((n) => [n.namespace, n.outcome]));
    expect(outcomes).toEqual({ "team-a": "unchanged", "team-b": "unchanged", "team-c": "created", "team-d": "created" });
    expect((await pullSecret("team-d")).config.auths[BED_ECR_HOST]!.password).toBe(motoPassword);
    const statuses = bed.proxy.requests().map((r) => r.status);
    expect(statuses.filter((s) => s === 429)).toHaveLength(2);
    expect(statuses.filter((s) => s === 503)).toHaveLength(2);
  });

  it("KUBE_CLIENT=client-node: the same heal through @kubernetes/client-node", async () => {
    await bed.kubectl(["-n", "team-b", "delete", "secret", "ecr-pull-secret"], { check: true });
    const { report, failed } = await heal({ action: "heal", namespaces: ["team-b", "team-a"] }, { KUBE_CLIENT: "client-node" });
    expect(failed).toBe(false);
    expect(report.kubernetes!.clusters[0]!.namespaces.map((n) => [n.namespace, n.outcome])).toEqual([
      ["team-a", "unchanged"],
      ["team-b", "created"],
    ]);
    expect((await pullSecret("team-b")).config.auths[BED_ECR_HOST]!.password).toBe(motoPassword);
  });

  it("the CLI heal, signed as an identity outside the RBAC group: 403 named per namespace, exit 1, Secrets Manager still written first", async () => {
    const nobody = DEFAULT_IDENTITIES.nobody;
    const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ["bin/ecr-token-rotator.mjs", "heal", "--json", "--force", "--namespace", "team-a", "--namespace", "team-b", "--now", tokenNow().toISOString()],
        {
          env: { PATH: process.env.PATH ?? "", ...distEnv(), ...env({ AWS_ACCESS_KEY_ID: nobody.accessKeyId, AWS_SECRET_ACCESS_KEY: nobody.secretAccessKey }) },
        },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
      );
    });
    expect(out.code).toBe(1);
    const report = JSON.parse(out.stdout) as Report;
    logged.push(out.stdout, out.stderr);
    expect(report.registries[0]!.outcome).not.toBe("failed");
    const namespaces = report.kubernetes!.clusters[0]!.namespaces;
    expect(namespaces.map((n) => [n.namespace, n.outcome])).toEqual([
      ["team-a", "failed"],
      ["team-b", "failed"],
    ]);
    for (const ns of namespaces) expect(ns.reason).toMatch(/forbidden/i);
  });

  it("no secret material in any Report or log line of the runs above", () => {
    const haystack = logged.join("\n") + JSON.stringify(first.report);
    expect(haystack).toContain("image-pull-failures-test-cluster");
    for (const needle of [motoPassword, Buffer.from(`AWS:${motoPassword}`).toString("base64"), "k8s-aws-v1.", DEFAULT_IDENTITIES.rotator.secretAccessKey]) {
      expect(haystack).not.toContain(needle);
    }
  });
});
