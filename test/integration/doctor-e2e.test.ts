/**
 * The doctor end to end, everything configured at once, as an operator runs it
 * (bin/ecr-token-rotator.mjs → dist/cli.mjs, its own process):
 *   - AWS: moto behind the fault proxy (test/support/moto-proxy.ts). GetAuthorizationToken answers
 *     carry a token of the real shape (its password embeds its expiry), so no --now is needed;
 *   - the registry: Debian's docker-registry accepting exactly that token, behind a TLS front
 *     whose certificate names the ECR host (test/support/ecr-front.ts), with PROBE_IMAGE;
 *   - the secret: created by the product itself (a `heal` through the CLI);
 *   - the cluster: EKS_CLUSTERS names the bed's cluster only; DescribeCluster (moto, its answer
 *     pointed at the bed: test/support/bed-env.ts) leads to the real kube-apiserver, which
 *     authenticates the product's EKS token (the bed's STS-like webhook) and authorises it by
 *     infra/k8s/components/fallback/rbac.yaml alone; an ExternalSecret reads the product's secret, and the heal
 *     wrote the pull Secrets.
 * A healthy deployment passes every line but those that are not configured; each broken variant,
 * applied then undone, fails exactly its line (exit 1, each failure with its fix); the Lambda
 * payload {"action":"doctor"} through `invoke` returns the same checks. No run's output holds the
 * token, its password, the `auth` value or an EKS bearer token.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SecretsManagerClient, TagResourceCommand } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterCheckNames } from "../../src/doctor/cluster-checks";
import { createEksToken, decodeEksToken } from "../../src/eks/token";
import type { Report } from "../../src/report/report";
import { DEFAULT_IDENTITIES, startBed, type Bed } from "../bed/index";
import { adminClient, type AdminClient } from "../bed/kubelet";
import { productRules, putExternalSecret, setProductRules, waitForRight, type ReadyCondition, PRODUCT_MANIFESTS } from "../bed/product-manifests";
import { BED_ECR_HOST, motoClusterForBed, productEnvForBed } from "../support/bed-env";
import { ECR_FRONT_PRELOAD, startEcrFront, type EcrFront } from "../support/ecr-front";
import { ecrTokensWithEmbeddedExpiry, startProxiedMoto, type ProxiedMoto } from "../support/moto-proxy";
import { startRegistry, type Registry } from "../support/registry";
import { distEnv } from "../support/dist";

const SECRET = "production/ecr/credentials";
const IMAGE = "demo/app:1";
const TEAMS = ["team-a", "team-b"];
const SYNCED: ReadyCondition = { status: "True", reason: "SecretSynced", message: "secret synced" };

let bed: Bed;
let aws: ProxiedMoto;
let registry: Registry;
let front: EcrFront;
let admin: AdminClient;
/** The credential GetAuthorizationToken "issues" (through the proxy) and the registry accepts. */
let issued: { username: string; password: string };
let cluster: string;
const dir = mkdtempSync(join(tmpdir(), "doctor-e2e-"));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The deployment's environment: moto (through its proxy) + the registry front + the bed's cluster by name only. */
const env = (): Record<string, string> => ({
  PATH: process.env.PATH ?? "",
  ...distEnv(),
  ...productEnvForBed(bed, aws, { EKS_CLUSTERS: bed.clusterName, PROBE_IMAGE: IMAGE, ESO_RESYNC: "ecr-token-rotator/resync=true" }),
  ...front.env(),
});

/**
 * What would betray an EKS bearer token the rotator's credentials (the env's) could have signed
 * for the cluster between `from` and `to` (SigV4 signs whole seconds): each token's last 32
 * characters (base64url of its signature's end: any printed piece of the token that reaches its
 * end holds them) and its signature in hex (the decoded URL's).
 */
async function bearerTokens(from: number, to: number): Promise<string[]> {
  const rotator = DEFAULT_IDENTITIES.rotator;
  const credentials = { accessKeyId: rotator.accessKeyId, secretAccessKey: rotator.secretAccessKey, sessionToken: env().AWS_SESSION_TOKEN! };
  const out: string[] = [];
  for (let s = Math.floor(from / 1000) - 1; s <= Math.ceil(to / 1000) + 1; s++) {
    const { token } = await createEksToken({ clusterName: cluster, region: "us-east-1", credentials, now: new Date(s * 1000) });
    out.push(token.slice(-32), decodeEksToken(token).searchParams.get("X-Amz-Signature")!);
  }
  return out;
}

/** What may never be printed: the token GetAuthorizationToken returns, its password, the `auth` value (the same base64). */
const storedSecrets = (): string[] => [issued.password, Buffer.from(`${issued.username}:${issued.password}`).toString("base64")];

/**
 * The CLI in its own process. Unless the command prints a token by design (`eks-token`), its
 * whole output is searched for every secret of the run: the stored token and the bearer token it
 * could have signed.
 */
async function cli(args: string[], opts: { input?: string; printsToken?: boolean } = {}): Promise<Run & { tokens: string[] }> {
  const from = Date.now();
  const run = await new Promise<Run>((resolve) => {
    const child = execFile(process.execPath, [...ECR_FRONT_PRELOAD, "bin/ecr-token-rotator.mjs", ...args], { env: env() }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(opts.input ?? "");
  });
  const tokens = await bearerTokens(from, Date.now());
  if (!opts.printsToken) {
    const all = run.stdout + run.stderr;
    for (const secret of [...storedSecrets(), ...tokens]) expect(all.includes(secret), `a secret in the output of ${args.join(" ")}`).toBe(false);
    expect(all).not.toMatch(/k8s-aws-v1\./);
  }
  return { ...run, tokens };
}

async function doctor(): Promise<{ code: number; report: Report }> {
  const run = await cli(["doctor", "--json"]);
  expect(run.stderr).toMatch(/^doctor: /);
  return { code: run.code, report: JSON.parse(run.stdout) as Report };
}

const failed = (report: Report) => report.checks!.filter((c) => c.status === "fail");
const check = (report: Report, name: string) => report.checks!.find((c) => c.name === name)!;

/** A broken variant: applied, the doctor run, then undone whatever happened. */
async function broken(apply: () => Promise<void>, undo: () => Promise<void>): Promise<{ code: number; report: Report }> {
  await apply();
  try {
    return await doctor();
  } finally {
    await undo();
  }
}

async function setOwnerTag(value: string): Promise<void> {
  const sm = new SecretsManagerClient({ region: "us-east-1", endpoint: aws.moto.url, credentials: { accessKeyId: "t", secretAccessKey: "t" } });
  try {
    await sm.send(new TagResourceCommand({ SecretId: SECRET, Tags: [{ Key: "ecr-token-rotator:managed", Value: value }] }));
  } finally {
    sm.destroy();
  }
}

beforeAll(async () => {
  [bed, aws] = await Promise.all([startBed({ rbacManifests: PRODUCT_MANIFESTS }), startProxiedMoto({ freshTokens: false })]);
  cluster = bed.clusterName;
  issued = ecrTokensWithEmbeddedExpiry(aws.proxy);
  await motoClusterForBed(bed, aws);
  registry = await startRegistry({ users: [issued] });
  front = await startEcrFront(registry, [BED_ECR_HOST], dir);
  admin = adminClient(bed, 4);
  for (const ns of TEAMS) await bed.createNamespace(ns);
  // team-a's ExternalSecret reads the product's secret; ESO (not running here) reports it synced.
  await putExternalSecret(admin, "team-a", "ecr-pull-secret", SYNCED);
  // The deployment as the product leaves it: the secret in Secrets Manager, the pull Secrets in the cluster.
  const healed = await cli(["heal", "--json"]);
  expect(healed.code, healed.stdout + healed.stderr).toBe(0);
  expect(JSON.parse(healed.stdout)).toMatchObject({ ok: true, action: "heal" });
}, 600_000);

afterAll(async () => {
  admin?.close();
  await front?.stop();
  await Promise.all([bed?.stop(), aws?.stop(), registry?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe("doctor end to end: moto + the Debian registry + the bed's cluster found through DescribeCluster", () => {
  let healthy: Report;

  it("a healthy deployment passes every line; only what is not configured is skipped, saying so; exit 0", async () => {
    const before = aws.proxy.count({ method: "GET", path: `/clusters/${cluster}` });
    const { code, report } = await doctor();
    healthy = report;
    expect(code).toBe(0);
    expect(report).toMatchObject({ ok: true, action: "doctor", ecrCalls: 1, errors: [] });
    expect(report.checks!.map((c) => `${c.status} ${c.name}`)).toEqual([
      "pass aws identity",
      "pass ecr token us-east-1",
      `pass registry login ${BED_ECR_HOST}`,
      `pass registry pull ${BED_ECR_HOST}/${IMAGE}`,
      `pass secret exists ${SECRET}`,
      `pass secret owned ${SECRET}`,
      `pass secret validity ${SECRET}`,
      `skip secret policy ${SECRET}`,
      `skip secret kms ${SECRET}`,
      `skip secret replicas ${SECRET}`,
      // Every cluster line passes but the optional role's, off by default (said, not failed).
      ...clusterCheckNames(cluster).map((name) => `${name === `cluster optional-role ${cluster} diagnosis-secrets` ? "skip" : "pass"} ${name}`),
    ]);
    // The skips: what this deployment does not configure.
    expect(report.checks!.filter((c) => c.status === "skip").map((c) => [c.name, c.detail])).toEqual([
      [`secret policy ${SECRET}`, "SECRET_READERS is not set: no resource policy is managed"],
      [`secret kms ${SECRET}`, "KMS_KEY_ID is not set: the secrets use the AWS managed key aws/secretsmanager"],
      [`secret replicas ${SECRET}`, "SECRET_REPLICA_REGIONS is not set"],
      [
        `cluster optional-role ${cluster} diagnosis-secrets`,
        "not bound: the diagnosis cannot read other pull Secrets (it says what it could not check); optional, off by default: kubectl apply -f infra/k8s/components/diagnosis-secrets/diagnosis-secrets-rbac.yaml binds ecr-token-rotator-diagnosis-secrets",
      ],
    ]);
    expect(check(report, `cluster admission-policy ${cluster}`).detail).toMatch(/^5 ValidatingAdmissionPolicies and their bindings \(Deny\) installed: /);
    // The cluster was found through DescribeCluster (moto), and reached at the bed's endpoint.
    expect(aws.proxy.count({ method: "GET", path: `/clusters/${cluster}` })).toBeGreaterThan(before);
    expect(check(report, `cluster reachable ${cluster}`).detail).toMatch(new RegExp(`^endpoint ${new URL(bed.proxyUrl).host}, Kubernetes v1\\.\\d+\\.\\d+`));
    expect(check(report, `cluster identity ${cluster}`).detail).toMatch(
      /^the cluster knows the product as "ecr-token-rotator" \(IAM arn:aws:sts::123456789012:assumed-role\/ecr-token-rotator\//,
    );
    expect(check(report, `cluster externalsecrets ${cluster}`).detail).toBe(`1 ExternalSecret reads ${SECRET}, all synced (Ready=True)`);
    // The pull Secrets the heal wrote hold the token whose expiry is embedded in its password.
    expect(check(report, `cluster oldest-token ${cluster}`).detail).toMatch(
      new RegExp(
        `^oldest token: ecr-pull-secret in namespace team-[ab] \\(${BED_ECR_HOST.replaceAll(".", "\\.")}\\) valid for 11h\\d{2}m .*; 2 pull Secrets in the 2 target namespaces$`,
      ),
    );
    expect(check(report, "aws identity").detail).toMatch(/^arn:aws:(iam|sts)::123456789012:/);
  });

  it("the text form is the checklist, one line per check, then the summary", async () => {
    const run = await cli(["doctor"]);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    const summary = `${healthy.checks!.length - 4} passed, 0 failed, 4 skipped`;
    expect(lines.at(-1)).toBe(summary);
    const checklist = lines.filter((l) => /^(PASS|FAIL|SKIP) /.test(l));
    expect(checklist.map((l) => l.replace(/ — .*$/, ""))).toEqual(healthy.checks!.map((c) => `${c.status.toUpperCase()}  ${c.name}`));
  });

  it("the product's ClusterRole missing one verb fails exactly that rbac line", async () => {
    const { code, report } = await broken(
      async () => {
        // The rule that grants create on secrets (rbac.yaml's only unnamed Secret rule) goes.
        const rules = productRules().filter((r) => !(r.resources.includes("secrets") && r.verbs.includes("create")));
        await setProductRules(admin, rules);
        await waitForRight(admin, "create", "secrets", false);
      },
      async () => {
        await setProductRules(admin, productRules());
        await waitForRight(admin, "create", "secrets", true);
      },
    );
    expect(code).toBe(1);
    expect(failed(report).map((c) => c.name)).toEqual([`cluster rbac ${cluster} create secrets`]);
    expect(check(report, `cluster rbac ${cluster} create secrets`)).toMatchObject({
      detail: expect.stringMatching(/^"ecr-token-rotator" may not create secrets cluster-wide/),
      fix: expect.stringContaining('add "create" to the verbs of the rule for secrets (apiGroups: [""]) in the ClusterRole ecr-token-rotator'),
    });
  });

  it("the secret's owner tag changed fails exactly `secret owned`", async () => {
    const { code, report } = await broken(
      () => setOwnerTag("another-team"),
      () => setOwnerTag("true"),
    );
    expect(code).toBe(1);
    expect(failed(report).map((c) => c.name)).toEqual([`secret owned ${SECRET}`]);
    expect(check(report, `secret owned ${SECRET}`)).toMatchObject({
      detail: expect.stringMatching(/^it lacks the tag ecr-token-rotator:managed=true/),
      fix: expect.stringContaining(`aws secretsmanager tag-resource --secret-id ${SECRET}`),
    });
  });

  it("a registry that refuses the token (its htpasswd no longer matches) fails exactly `registry login`; the pull line is skipped", async () => {
    const { code, report } = await broken(
      () => registry.setUsers([{ username: issued.username, password: "a-password-the-token-does-not-carry" }]),
      () => registry.setUsers([issued]),
    );
    expect(code).toBe(1);
    expect(failed(report).map((c) => c.name)).toEqual([`registry login ${BED_ECR_HOST}`]);
    expect(check(report, `registry login ${BED_ECR_HOST}`).detail).toBe("the registry refused the token GetAuthorizationToken issued in us-east-1 (HTTP 401)");
    expect(check(report, `registry pull ${BED_ECR_HOST}/${IMAGE}`)).toMatchObject({ status: "skip" });
  });

  it("an ExternalSecret reading our secret whose Ready condition is False fails exactly the externalsecrets line", async () => {
    const { code, report } = await broken(
      () =>
        putExternalSecret(admin, "team-a", "ecr-pull-secret", {
          status: "False",
          reason: "SecretSyncedError",
          message: `error retrieving secret at .data[0], key: ${SECRET}, err: AccessDeniedException`,
        }),
      () => putExternalSecret(admin, "team-a", "ecr-pull-secret", SYNCED),
    );
    expect(code).toBe(1);
    expect(failed(report).map((c) => c.name)).toEqual([`cluster externalsecrets ${cluster}`]);
    expect(check(report, `cluster externalsecrets ${cluster}`)).toMatchObject({
      detail: expect.stringContaining(`1 of 1 ExternalSecrets reading ${SECRET} not synced: team-a/ecr-pull-secret (Ready=False, SecretSyncedError,`),
      fix: expect.stringMatching(/^kubectl -n team-a describe externalsecret ecr-pull-secret /),
    });
  });

  it("every variant undone, the deployment passes again", async () => {
    const { code, report } = await doctor();
    expect(code).toBe(0);
    expect(report.checks!.map((c) => `${c.status} ${c.name}`)).toEqual(healthy.checks!.map((c) => `${c.status} ${c.name}`));
  });

  it('{"action":"doctor"} through `invoke --event -` (the handler path) returns the same checks', async () => {
    const run = await cli(["invoke", "--event", "-", "--json"], { input: JSON.stringify({ action: "doctor" }) });
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as Report;
    expect(report).toMatchObject({ ok: true, action: "doctor", trigger: { kind: "manual", via: "manual" } });
    expect(report.checks!.map((c) => `${c.status} ${c.name}`)).toEqual(healthy.checks!.map((c) => `${c.status} ${c.name}`));
  });

  it("the bearer-token search covers the token the CLI really signs (eks-token prints it by design)", async () => {
    const run = await cli(["eks-token", "--cluster", cluster], { printsToken: true });
    expect(run.code).toBe(0);
    const printed = (JSON.parse(run.stdout) as { status: { token: string } }).status.token;
    expect(run.tokens).toContain(printed.slice(-32));
  });
});
