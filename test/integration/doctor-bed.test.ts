/**
 * The doctor's cluster checks on the real kube-apiserver (RBAC on, ESO's CRDs served), through
 * the fault proxy, authenticated by the product's own EKS token (signed by src/eks, verified by
 * the bed's STS-like webhook) and authorised only by infra/k8s/components/fallback/rbac.yaml. A healthy deployment
 * passes every line; each broken variant — a verb missing from the ClusterRole, an ExternalSecret
 * ESO reports not synced (status set through the status subresource), an expired token in a pull
 * Secret, an identity no access entry maps — fails exactly its line. No secret in any line.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, type ClusterConfig } from "../../src/config/config";
import { clusterCheckNames, clusterChecks, createClusterChecks } from "../../src/doctor/cluster-checks";
import type { DoctorCheck } from "../../src/doctor/types";
import { getClusterAccess } from "../../src/eks/connection";
import { ADMISSION_POLICIES, OPTIONAL_ROLES, PRODUCT_RIGHTS } from "../../src/kube/rights";
import { EksTokenCache } from "../../src/eks/token-cache";
import { NO_DEADLINE } from "../../src/shared/deadline";
import { DEFAULT_IDENTITIES, ROOT, startBed, type Bed, type BedIdentity } from "../bed/index";
import { adminClient, dockerConfigSecret, ecrPassword, type AdminClient } from "../bed/kubelet";
import { DIAGNOSIS_SECRETS_RBAC, productRules, putExternalSecret, setProductRules, waitForRight, PRODUCT_MANIFESTS } from "../bed/product-manifests";
import { BED_ECR_HOST } from "../support/bed-env";

const STRANGER: BedIdentity = {
  accessKeyId: "AKIASTRANGERTESTKEY1",
  secretAccessKey: "stranger-test-secret-key",
  arn: "arn:aws:iam::123456789012:role/stranger",
  username: "stranger",
  groups: [],
  unmapped: true,
};
const TEAMS = ["doc-a", "doc-b"];
let bed: Bed;
let admin: AdminClient;
let cluster: string;
/** Every bearer token the checks used, every password and `auth` written: none may appear in a line. */
const bearerTokens: string[] = [];
const secrets: string[] = [];
const outputs: string[] = [];

const fresh = (tag: string, hours: number) => {
  const password = ecrPassword(new Date(Date.now() + hours * 3600_000), tag);
  secrets.push(password, Buffer.from(`AWS:${password}`).toString("base64"));
  return password;
};

async function putPullSecret(namespace: string, password: string): Promise<void> {
  const body = dockerConfigSecret(namespace, "ecr-pull-secret", { [BED_ECR_HOST]: password }) as { metadata: Record<string, unknown> };
  body.metadata.labels = { "app.kubernetes.io/managed-by": "ecr-token-rotator" };
  const put = await admin.call("PUT", `/api/v1/namespaces/${namespace}/secrets/ecr-pull-secret`, body, { ok: [200, 201, 404] });
  if (put.status === 404) await admin.call("POST", `/api/v1/namespaces/${namespace}/secrets`, body);
}

/** The product's configuration for the bed (as a deployment would set it). */
const config = () =>
  loadConfig({
    AWS_REGION: "us-east-1",
    ECR_REGISTRIES: BED_ECR_HOST,
    SECRET_NAME: "production/ecr/credentials",
    EKS_CLUSTERS: JSON.stringify([{ name: bed.clusterName, region: "us-east-1", endpoint: bed.proxyUrl, caData: bed.caData }]),
    TARGET_NAMESPACES: "*",
    EXCLUDE_NAMESPACES: "kube-system,kube-public,kube-node-lease,default",
    ESO_RESYNC: "ecr-token-rotator/resync=true",
  });

/** The checks, reaching the cluster the product's way: the configured endpoint + CA, an EKS token signed with `identity`'s credentials. */
async function doctor(identity: BedIdentity = DEFAULT_IDENTITIES.rotator): Promise<DoctorCheck[]> {
  const tokens = new EksTokenCache();
  const checks = createClusterChecks({
    access: async (c: ClusterConfig) => {
      const access = await getClusterAccess(
        { name: c.name, region: c.region, ...(c.endpoint ? { endpoint: c.endpoint } : {}), ...(c.caData ? { caData: c.caData } : {}) },
        {
          describe: async () => {
            throw new Error("DescribeCluster is not called with endpoint and caData configured");
          },
          credentials: async () => ({ accessKeyId: identity.accessKeyId, secretAccessKey: identity.secretAccessKey }),
          cache: tokens,
        },
      );
      bearerTokens.push(access.token);
      return access;
    },
  });
  const lines = await checks({ config: config(), tokenNow: () => new Date(), deadline: NO_DEADLINE });
  outputs.push(JSON.stringify(lines));
  return lines;
}

const failed = (lines: DoctorCheck[]) => lines.filter((l) => l.status === "fail").map((l) => l.name);
const line = (lines: DoctorCheck[], name: string) => lines.find((l) => l.name === name)!;

beforeAll(async () => {
  bed = await startBed({ rbacManifests: PRODUCT_MANIFESTS, identities: { stranger: STRANGER } });
  cluster = bed.clusterName;
  admin = adminClient(bed, 4);
  for (const ns of TEAMS) await bed.createNamespace(ns);
  await putPullSecret("doc-a", fresh("DOCA", 9));
  await putPullSecret("doc-b", fresh("DOCB", 6));
  await putExternalSecret(admin, "doc-a", "ecr-pull-secret", { status: "True", reason: "SecretSynced", message: "secret synced" });
}, 120_000);

afterAll(async () => {
  admin?.close();
  await bed?.stop();
});

describe("doctor: cluster checks on the bed", () => {
  it("a healthy deployment passes every cluster line, in a bounded number of requests", async () => {
    bed.proxy.resetCounts();
    const lines = await doctor();
    // GET /version, the SelfSubjectReview, one access review per right and per optional role,
    // one GET per admission policy and per binding (by name), ESO's discovery, and one LIST each
    // of ExternalSecrets, namespaces and pull Secrets (one page each here).
    expect(bed.proxy.countsByRoute()).toMatchObject({
      "POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews": PRODUCT_RIGHTS.length + OPTIONAL_ROLES.length,
    });
    expect(bed.proxy.count()).toBe(PRODUCT_RIGHTS.length + OPTIONAL_ROLES.length + 2 * ADMISSION_POLICIES.length + 6);
    expect(lines.map((l) => l.name)).toEqual(clusterCheckNames(cluster));
    // The optional role is not bound by the shipped manifests: said, not failed.
    expect(lines.filter((l) => l.status !== "pass").map((l) => `${l.status} ${l.name}`)).toEqual([`skip cluster optional-role ${cluster} diagnosis-secrets`]);
    expect(line(lines, `cluster admission-policy ${cluster}`).detail).toBe(
      `5 ValidatingAdmissionPolicies and their bindings (Deny) installed: ${ADMISSION_POLICIES.join(", ")}`,
    );
    expect(line(lines, `cluster reachable ${cluster}`).detail).toMatch(/^endpoint 127\.0\.0\.1:\d+, Kubernetes v1\.34\.\d+/);
    expect(line(lines, `cluster identity ${cluster}`).detail).toBe(
      'the cluster knows the product as "ecr-token-rotator" (IAM arn:aws:sts::123456789012:assumed-role/ecr-token-rotator/bed-session), groups: ecr-token-rotator',
    );
    expect(line(lines, `cluster eso-crds ${cluster}`).detail).toBe("external-secrets.io/v1 serves externalsecrets and clusterexternalsecrets");
    expect(line(lines, `cluster externalsecrets ${cluster}`).detail).toBe("1 ExternalSecret reads production/ecr/credentials, all synced (Ready=True)");
    expect(line(lines, `cluster oldest-token ${cluster}`).detail).toMatch(
      /^oldest token: ecr-pull-secret in namespace doc-b .* valid for 5h59m .*; 2 pull Secrets in the 2 target namespaces$/,
    );
  });

  it("the exported clusterChecks reaches the cluster the run's way (configured endpoint + CA, credentials from the default chain) and passes too", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, bed.awsEnv("rotator"), { AWS_REGION: "us-east-1" });
    try {
      const lines = await clusterChecks({ config: config(), tokenNow: () => new Date(), deadline: NO_DEADLINE });
      outputs.push(JSON.stringify(lines));
      expect(lines.map((l) => l.name)).toEqual(clusterCheckNames(cluster));
      expect(lines.filter((l) => l.status !== "pass").map((l) => l.name)).toEqual([`cluster optional-role ${cluster} diagnosis-secrets`]);
    } finally {
      process.env = saved;
    }
  });

  it("a ClusterRole missing one verb fails exactly that rbac line", async () => {
    const rules = productRules();
    const secretsRule = rules.find((r) => r.resources.includes("secrets"))!;
    secretsRule.verbs = secretsRule.verbs.filter((v) => v !== "patch");
    await setProductRules(admin, rules);
    try {
      await waitForRight(admin, "patch", "secrets", false, "ecr-pull-secret");
      const lines = await doctor();
      expect(failed(lines)).toEqual([`cluster rbac ${cluster} patch secrets`]);
      expect(line(lines, `cluster rbac ${cluster} patch secrets`).fix).toContain('add "patch" to the verbs of the rule for secrets');
    } finally {
      await setProductRules(admin, productRules());
      await waitForRight(admin, "patch", "secrets", true, "ecr-pull-secret");
    }
  });

  it("an ExternalSecret reading our secret that ESO reports not synced fails exactly the externalsecrets line", async () => {
    await putExternalSecret(admin, "doc-b", "ecr-pull-secret", {
      status: "False",
      reason: "SecretSyncedError",
      message: "error retrieving secret at .data[0], key: production/ecr/credentials, err: AccessDeniedException",
    });
    try {
      const lines = await doctor();
      expect(failed(lines)).toEqual([`cluster externalsecrets ${cluster}`]);
      const l = line(lines, `cluster externalsecrets ${cluster}`);
      expect(l.detail).toContain(
        "1 of 2 ExternalSecrets reading production/ecr/credentials not synced: doc-b/ecr-pull-secret (Ready=False, SecretSyncedError,",
      );
      expect(l.fix).toMatch(/^kubectl -n doc-b describe externalsecret ecr-pull-secret /);
    } finally {
      await admin.call("DELETE", "/apis/external-secrets.io/v1/namespaces/doc-b/externalsecrets/ecr-pull-secret");
    }
  });

  it("an expired token in a pull Secret fails exactly the oldest-token line", async () => {
    const expired = ecrPassword(new Date(Date.now() - 3 * 3600_000), "DOCEXPIRED");
    secrets.push(expired, Buffer.from(`AWS:${expired}`).toString("base64"));
    await putPullSecret("doc-b", expired);
    try {
      const lines = await doctor();
      expect(failed(lines)).toEqual([`cluster oldest-token ${cluster}`]);
      const l = line(lines, `cluster oldest-token ${cluster}`);
      expect(l.detail).toMatch(/^oldest token: ecr-pull-secret in namespace doc-b \(.*\) expired (2h59m|3h00m) ago/);
      expect(l.fix).toMatch(new RegExp(`^ecr-token-rotator heal --cluster ${cluster} --namespace doc-b `));
    } finally {
      await putPullSecret("doc-b", fresh("DOCB2", 6));
    }
  });

  it("an admission policy binding removed fails exactly the admission-policy line, with kubectl apply as the fix; re-applied it passes", async () => {
    const binding = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/ecr-token-rotator-events";
    await admin.call("DELETE", binding);
    try {
      const lines = await doctor();
      expect(failed(lines)).toEqual([`cluster admission-policy ${cluster}`]);
      expect(line(lines, `cluster admission-policy ${cluster}`)).toMatchObject({
        detail: expect.stringMatching(/^not installed: binding ecr-token-rotator-events: RBAC alone lets/),
        fix: "kubectl apply -f infra/k8s/components/fallback/admission-policy.yaml (Kubernetes >= 1.30: admissionregistration.k8s.io/v1)",
      });
    } finally {
      await bed.kubectl(["apply", "-f", "-"], { input: readFileSync(join(ROOT, "infra/k8s/components/fallback/admission-policy.yaml"), "utf8"), check: true });
    }
    expect(line(await doctor(), `cluster admission-policy ${cluster}`).status).toBe("pass");
  });

  it("every policy and binding removed: the line lists them (the shipped RBAC still lets the doctor look)", async () => {
    const base = "/apis/admissionregistration.k8s.io/v1";
    for (const name of ADMISSION_POLICIES) {
      await admin.call("DELETE", `${base}/validatingadmissionpolicybindings/${name}`);
      await admin.call("DELETE", `${base}/validatingadmissionpolicies/${name}`);
    }
    try {
      const lines = await doctor();
      expect(failed(lines)).toEqual([`cluster admission-policy ${cluster}`]);
      expect(line(lines, `cluster admission-policy ${cluster}`).detail).toMatch(
        /^not installed: policy ecr-token-rotator-secrets, binding ecr-token-rotator-secrets, .* and 5 more: /,
      );
    } finally {
      await bed.kubectl(["apply", "-f", "-"], { input: readFileSync(join(ROOT, "infra/k8s/components/fallback/admission-policy.yaml"), "utf8"), check: true });
    }
  });

  it("the optional diagnosis-secrets role: not bound is said (skip); bound, the line passes", async () => {
    expect(line(await doctor(), `cluster optional-role ${cluster} diagnosis-secrets`)).toMatchObject({
      status: "skip",
      detail: expect.stringMatching(/^not bound: the diagnosis cannot read other pull Secrets/),
    });
    await bed.kubectl(["apply", "-f", "-"], { input: readFileSync(join(ROOT, DIAGNOSIS_SECRETS_RBAC), "utf8"), check: true });
    try {
      await waitForRight(admin, "get", "secrets", true, "ecr-token-rotator-doctor-probe");
      const lines = await doctor();
      expect(line(lines, `cluster optional-role ${cluster} diagnosis-secrets`)).toMatchObject({
        status: "pass",
        detail: expect.stringMatching(/^bound \(ecr-token-rotator-diagnosis-secrets\): /),
      });
      expect(lines.filter((l) => l.status !== "pass")).toEqual([]);
    } finally {
      await admin.call("DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/ecr-token-rotator-diagnosis-secrets");
      await waitForRight(admin, "get", "secrets", false, "ecr-token-rotator-doctor-probe");
    }
  });

  it("an identity no access entry maps fails the identity line; every later line is skipped", async () => {
    const lines = await doctor(STRANGER);
    expect(line(lines, `cluster reachable ${cluster}`).status).toBe("pass");
    expect(failed(lines)).toEqual([`cluster identity ${cluster}`]);
    expect(line(lines, `cluster identity ${cluster}`).fix).toContain(`aws eks create-access-entry --cluster-name ${cluster} --region us-east-1`);
    expect(lines.slice(2).every((l) => l.status === "skip" && l.detail === `the cluster refused the token (see cluster identity ${cluster})`)).toBe(true);
  });

  it("no bearer token, password or auth value appears in any line of any run", () => {
    expect(outputs.length).toBeGreaterThanOrEqual(5);
    expect(bearerTokens.length).toBeGreaterThanOrEqual(5);
    for (const json of outputs) {
      for (const value of [...bearerTokens, ...secrets]) expect(json.includes(value), "a secret in the doctor's lines").toBe(false);
      expect(json).not.toMatch(/k8s-aws-v1\./);
    }
  });
});
