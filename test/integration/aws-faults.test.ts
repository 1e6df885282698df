/**
 * The AWS side of the fault matrix, through a real proxy: moto behind the fault proxy
 * (test/bed/fault-proxy.ts, plain HTTP; test/support/moto-proxy.ts), the product's own SDK clients
 * (their retry settings, real HTTP, real serialisation) pointed at the proxy. Per service — ECR
 * GetAuthorizationToken, Secrets Manager writes, EKS DescribeCluster — throttling (429, and the
 * 400 ThrottlingException AWS JSON services really send) and 5xx are retried within the SDK's
 * bound (4 attempts: the proxy counts them), a dropped connection is retried, a hung endpoint is
 * ended by the invocation's deadline (the work left reported `skipped: deadline`), and in every case
 * nothing is half-written: no secret version with a partial value, no duplicate version from a
 * retried write, no combined secret without every registry. moto's tokens get a current expiry
 * from the proxy, so the real clock judges them.
 */
import { CreateClusterCommand, EKSClient } from "@aws-sdk/client-eks";
import { GetSecretValueCommand, ListSecretsCommand, ListSecretVersionIdsCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app";
import { EksConnectionError, resolveClusterConnection, sdkDescribeCluster } from "../../src/eks/connection";
import type { Report } from "../../src/report/report";
import { runRequest } from "../../src/run/run";
import { parseManualRequest } from "../../src/request/triggers";
import { deadlineIn } from "../../src/shared/deadline";
import { freshEcrTokens, startProxiedMoto, type ProxiedMoto } from "../support/moto-proxy";

const A = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const B = "210987654321.dkr.ecr.us-east-1.amazonaws.com";
const SECRET_A = "ecr/123456789012/us-east-1/credentials";
const SECRET_B = "ecr/210987654321/us-east-1/credentials";
const COMBINED = "ecr/all-registries";
/** The SDK clients of src/aws.ts and src/eks/connection.ts: maxAttempts 4. */
const MAX_ATTEMPTS = 4;
/** What AWS JSON-protocol services (ECR, Secrets Manager) answer when they throttle. */
const AWS_THROTTLE = { body: JSON.stringify({ __type: "ThrottlingException", message: "Rate exceeded" }), contentType: "application/x-amz-json-1.1" };

let aws: ProxiedMoto;
let sm: SecretsManagerClient;
const savedEnv = { ...process.env };

beforeAll(async () => {
  aws = await startProxiedMoto();
  // The product's SDK clients read the endpoint from the environment (AWS_ENDPOINT_URL).
  Object.assign(process.env, aws.env());
  // Checks go straight to moto, never through the proxy.
  sm = new SecretsManagerClient({ region: "us-east-1", endpoint: aws.moto.url });
});
afterAll(async () => {
  await aws?.stop();
  process.env = savedEnv;
});
beforeEach(async () => {
  await aws.moto.reset();
  aws.resetFaults();
  clockAheadMs = 0;
});

const CONFIG = { ECR_REGISTRIES: `${A},${B}`, COMBINED_SECRET_NAME: COMBINED };

/**
 * How far the run's wall clock is ahead of the real one: a second rotation runs past the
 * debounce window (WRITE_DEBOUNCE_SECONDS) of the first one's versions. Tokens are judged by the real clock.
 */
let clockAheadMs = 0;

async function rotate(fields: Record<string, unknown> = {}): Promise<{ report: Report }> {
  const app = createApp({ ...aws.env(), ...CONFIG });
  const deps = { ...app.deps, now: () => new Date(Date.now() + clockAheadMs), tokenNow: () => new Date() };
  return { report: await runRequest(parseManualRequest({ action: "rotate", ...fields }), app.config, deps) };
}

const outcomes = (report: Report) => [
  ...report.registries.map((r) => `${r.secretName}: ${r.outcome}`),
  `${report.combinedSecret?.secretName}: ${report.combinedSecret?.outcome}`,
];

async function secretNames(): Promise<string[]> {
  return ((await sm.send(new ListSecretsCommand({}))).SecretList ?? []).map((s) => s.Name!).sort();
}

/** Every version of every secret holds a complete value (each registry's fields; the combined one every registry). */
async function expectNothingHalfWritten(): Promise<Record<string, number>> {
  const versions: Record<string, number> = {};
  for (const name of await secretNames()) {
    const ids = ((await sm.send(new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true }))).Versions ?? []).map((v) => v.VersionId!);
    versions[name] = ids.length;
    for (const id of ids) {
      const value = JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId: name, VersionId: id }))).SecretString!) as Record<string, string>;
      if (name === COMBINED) {
        const config = JSON.parse(value.dockerconfigjson!) as { auths: Record<string, unknown> };
        expect(Object.keys(config.auths).sort(), `${name} ${id}`).toEqual([A, B].sort());
        expect([...(value.registries as unknown as string[])].sort(), `${name} ${id}`).toEqual([A, B].sort());
      } else {
        expect(value, `${name} ${id}`).toMatchObject({
          username: "AWS",
          auth_token: expect.any(String),
          registry_url: expect.any(String),
          expires_at: expect.any(String),
        });
        expect(JSON.parse(value.dockerconfigjson!).auths[value.registry_url!], `${name} ${id}`).toBeDefined();
      }
    }
  }
  return versions;
}

const ALL_CREATED = [`${SECRET_A}: created`, `${SECRET_B}: created`, `${COMBINED}: created`];

describe("ECR GetAuthorizationToken through the fault proxy", () => {
  const token = { operation: "GetAuthorizationToken" };

  it.each([
    ["429 Too Many Requests", 2, 429, {}],
    ["400 ThrottlingException (what ECR sends)", 2, 400, AWS_THROTTLE],
    ["503 Service Unavailable", 3, 503, {}],
  ] as const)("retries %s (%i times) and then rotates everything", async (_what, n, status, body) => {
    aws.proxy.failNext(n, status, { match: token, ...body });
    const { report } = await rotate();
    expect(aws.proxy.count(token)).toBe(n + 1);
    expect(report.ok).toBe(true);
    expect(outcomes(report)).toEqual(ALL_CREATED);
    expect(await expectNothingHalfWritten()).toEqual({ [COMBINED]: 1, [SECRET_A]: 1, [SECRET_B]: 1 });
  });

  it("retries a dropped connection", async () => {
    aws.proxy.dropNext(1, { match: token });
    const { report } = await rotate();
    expect(aws.proxy.requests(token).map((r) => r.outcome ?? r.status)).toEqual(["dropped", 200]);
    expect(report.ok).toBe(true);
    expect(outcomes(report)).toEqual(ALL_CREATED);
  });

  it("gives up after the bound (4 attempts) and writes nothing at all", async () => {
    aws.proxy.failNext(100, 500, { match: token });
    const { report } = await rotate();
    expect(aws.proxy.count(token)).toBe(MAX_ATTEMPTS);
    expect(report.ok).toBe(false);
    expect(report.errors.join("\n")).toMatch(/500|Internal|token/i);
    expect(await secretNames()).toEqual([]);
    expect(aws.proxy.count({ operation: "CreateSecret" }) + aws.proxy.count({ operation: "PutSecretValue" })).toBe(0);
  });
});

describe("Secrets Manager writes through the fault proxy", () => {
  it.each([
    ["CreateSecret", "429 Too Many Requests", 2, 429, {}],
    ["CreateSecret", "400 ThrottlingException", 3, 400, AWS_THROTTLE],
    ["CreateSecret", "500 Internal Server Error", 3, 500, {}],
  ] as const)("%s: retries %s (%i times); each secret is created once, complete", async (operation, _what, n, status, body) => {
    aws.proxy.failNext(n, status, { match: { operation }, ...body });
    const { report } = await rotate();
    // 3 secrets created: the faulted one took n extra attempts.
    expect(aws.proxy.count({ operation })).toBe(3 + n);
    expect(report.ok).toBe(true);
    expect(outcomes(report)).toEqual(ALL_CREATED);
    expect(await expectNothingHalfWritten()).toEqual({ [COMBINED]: 1, [SECRET_A]: 1, [SECRET_B]: 1 });
  });

  /** A first rotation, then a new token (another expiry) so the second rotation must PutSecretValue. */
  async function rotatedOnce(): Promise<Record<string, string>> {
    expect((await rotate()).report.ok).toBe(true);
    const before: Record<string, string> = {};
    for (const name of await secretNames()) before[name] = (await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString!;
    aws.proxy.reset();
    freshEcrTokens(aws.proxy, 11);
    // The next rotation comes after the debounce window (at most an hour).
    clockAheadMs = 3_601_000;
    return before;
  }

  it("PutSecretValue: retries 503 (3 times) and a dropped connection; one new version per secret", async () => {
    await rotatedOnce();
    // Registry A's write: three 503s, then through; registry B's first attempt: dropped.
    aws.proxy.failNext(3, 503, { match: { operation: "PutSecretValue" } });
    aws.proxy.dropNext(1, { match: { operation: "PutSecretValue" }, skip: 4 });
    const { report } = await rotate();
    expect(report.ok).toBe(true);
    expect(outcomes(report)).toEqual([`${SECRET_A}: updated`, `${SECRET_B}: updated`, `${COMBINED}: updated`]);
    expect(aws.proxy.count({ operation: "PutSecretValue" })).toBe(3 + 3 + 1);
    expect(await expectNothingHalfWritten()).toEqual({ [COMBINED]: 2, [SECRET_A]: 2, [SECRET_B]: 2 });
  });

  it("PutSecretValue: a connection dropped AFTER Secrets Manager stored the value is retried idempotently (same ClientRequestToken, no second version)", async () => {
    await rotatedOnce();
    aws.proxy.dropNext(1, { match: { operation: "PutSecretValue" }, afterUpstream: true });
    const { report } = await rotate();
    expect(report.ok).toBe(true);
    const puts = aws.proxy.requests({ operation: "PutSecretValue" });
    expect(puts.map((r) => r.outcome ?? r.status)).toEqual(["dropped", 200, 200, 200]);
    expect(await expectNothingHalfWritten()).toEqual({ [COMBINED]: 2, [SECRET_A]: 2, [SECRET_B]: 2 });
  });

  it("PutSecretValue failing past the bound: the run fails, every secret keeps a complete current value", async () => {
    const before = await rotatedOnce();
    // The first registry's write goes through; every later PutSecretValue fails (500, all attempts).
    aws.proxy.failNext(100, 500, { match: { operation: "PutSecretValue" }, skip: 1 });
    const { report } = await rotate();
    expect(report.ok).toBe(false);
    // Both tokens are fresh, so the combined secret (every registry) is attempted — and fails too.
    expect(outcomes(report)).toEqual([`${SECRET_A}: updated`, `${SECRET_B}: failed`, `${COMBINED}: failed`]);
    // Registry B and the combined secret: exactly the SDK's bound of attempts each, then given up.
    expect(aws.proxy.count({ operation: "PutSecretValue" })).toBe(1 + MAX_ATTEMPTS + MAX_ATTEMPTS);
    expect(await expectNothingHalfWritten()).toEqual({ [COMBINED]: 1, [SECRET_A]: 2, [SECRET_B]: 1 });
    for (const name of [SECRET_B, COMBINED]) expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString, name).toBe(before[name]);
  });

  it("CreateSecret failing past the bound: the run fails, only complete secrets exist", async () => {
    aws.proxy.failNext(100, 503, { match: { operation: "CreateSecret" }, skip: 1 });
    const { report } = await rotate();
    expect(report.ok).toBe(false);
    expect(outcomes(report)).toEqual([`${SECRET_A}: created`, `${SECRET_B}: failed`, `${COMBINED}: failed`]);
    expect(aws.proxy.count({ operation: "CreateSecret" })).toBe(1 + MAX_ATTEMPTS + MAX_ATTEMPTS);
    expect(await secretNames()).toEqual([SECRET_A]);
    await expectNothingHalfWritten();
  });

  it("a token that cannot be fetched for one region past the bound: no combined secret without every registry", async () => {
    // Two regions, one token request each (in parallel): the first to arrive gets through, the
    // other fails on every attempt.
    const C = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
    aws.proxy.failNext(100, 503, { match: { operation: "GetAuthorizationToken" }, skip: 1 });
    const app = createApp({ ...aws.env(), ECR_REGISTRIES: `${A},${C}`, COMBINED_SECRET_NAME: COMBINED });
    const report = await runRequest(parseManualRequest({ action: "rotate" }), app.config, app.deps);
    expect(report.ok).toBe(false);
    expect(aws.proxy.count({ operation: "GetAuthorizationToken" })).toBe(1 + MAX_ATTEMPTS);
    expect(report.registries.map((r) => r.outcome).sort()).toEqual(["created", "failed"]);
    expect(report.combinedSecret).toMatchObject({ secretName: COMBINED, outcome: "skipped" });
    const written = report.registries.find((r) => r.outcome === "created")!.secretName;
    expect(await secretNames()).toEqual([written]);
    expect(aws.proxy.count({ operation: "CreateSecret" })).toBe(1);
    await expectNothingHalfWritten();
  });
});

describe("EKS DescribeCluster through the fault proxy", () => {
  const describe1 = { method: "GET", path: "/clusters/prod-a" };
  beforeEach(async () => {
    await new EKSClient({ region: "us-east-1", endpoint: aws.moto.url }).send(
      new CreateClusterCommand({
        name: "prod-a",
        roleArn: "arn:aws:iam::123456789012:role/eks",
        resourcesVpcConfig: { subnetIds: ["subnet-0123456789abcdef0"] },
      }),
    );
  });
  const resolve = () => resolveClusterConnection(sdkDescribeCluster("us-east-1"), { name: "prod-a", region: "us-east-1" });

  it.each([
    ["429 Too Many Requests", 2, 429],
    ["503 Service Unavailable", 3, 503],
  ] as const)("retries %s (%i times) and resolves the cluster's endpoint and CA", async (_what, n, status) => {
    aws.proxy.failNext(n, status, { match: describe1 });
    const connection = await resolve();
    expect(connection.server).toMatch(/^https:\/\//);
    expect(connection.caData.length).toBeGreaterThan(0);
    expect(aws.proxy.count(describe1)).toBe(n + 1);
  });

  it("retries a dropped connection", async () => {
    aws.proxy.dropNext(1, { match: describe1 });
    await expect(resolve()).resolves.toMatchObject({ server: expect.stringMatching(/^https:\/\//) });
    expect(aws.proxy.requests(describe1).map((r) => r.outcome ?? r.status)).toEqual(["dropped", 200]);
  });

  it("gives up after the bound; a heal then writes Secrets Manager completely and nothing in Kubernetes", async () => {
    aws.proxy.failNext(100, 500, { match: describe1 });
    await expect(resolve()).rejects.toBeInstanceOf(EksConnectionError);
    expect(aws.proxy.count(describe1)).toBe(MAX_ATTEMPTS);

    aws.proxy.resetCounts();
    const app = createApp({ ...aws.env(), ...CONFIG, EKS_CLUSTERS: "prod-a", FALLBACK_MODE: "on-heal" });
    const report = await runRequest(parseManualRequest({ action: "heal" }), app.config, app.deps);
    expect(report.ok).toBe(false);
    expect(report.errors.join("\n")).toMatch(/prod-a/);
    expect(outcomes(report)).toEqual(ALL_CREATED);
    expect(aws.proxy.count(describe1)).toBe(MAX_ATTEMPTS);
    // The only requests of the run: the token, the secrets, DescribeCluster — no cluster was reached.
    expect(
      Object.keys(aws.proxy.countsByRoute()).filter(
        (route) =>
          !/ (GetAuthorizationToken|DescribeSecret|GetSecretValue|CreateSecret|PutSecretValue|TagResource)$/.test(route) && route !== "GET /clusters/prod-a",
      ),
    ).toEqual([]);
    await expectNothingHalfWritten();
  });
});

describe("a hung endpoint is timed out by the invocation's deadline (per service)", () => {
  /** A run with a deadline `ms` from now, wired as the handler wires it (SDK adapters bound to it). */
  async function runWithin(ms: number, action: "rotate" | "heal", env: Record<string, string> = {}): Promise<{ report: Report; ms: number }> {
    const app = createApp({ ...aws.env(), ...CONFIG, ...env });
    const started = performance.now();
    const report = await runRequest(parseManualRequest({ action }), app.config, app.withDeadline!(deadlineIn(ms)));
    return { report, ms: performance.now() - started };
  }
  /** Time the run may take past its deadline (the Report is assembled, nothing waits on the network). */
  const SLACK_MS = 1_000;

  it("ECR GetAuthorizationToken never answers: every registry skipped: deadline, nothing written, the run fails at the deadline", async () => {
    aws.proxy.hang({ match: { operation: "GetAuthorizationToken" } });
    const { report, ms } = await runWithin(1_500, "rotate");
    expect(ms).toBeLessThan(1_500 + SLACK_MS);
    expect(report.ok).toBe(false);
    expect(outcomes(report)).toEqual([`${SECRET_A}: skipped`, `${SECRET_B}: skipped`, `${COMBINED}: skipped`]);
    expect(report.registries.every((r) => r.reason.startsWith("deadline"))).toBe(true);
    expect(report.deadline).toMatchObject({ reached: true });
    expect(await secretNames()).toEqual([]);
  });

  it("Secrets Manager CreateSecret never answers: the cut write and what follows are skipped: deadline, no combined secret, nothing half-written", async () => {
    aws.proxy.hang({ match: { operation: "CreateSecret" } });
    const { report, ms } = await runWithin(1_500, "rotate");
    expect(ms).toBeLessThan(1_500 + SLACK_MS);
    expect(report.ok).toBe(false);
    expect(outcomes(report)).toEqual([`${SECRET_A}: skipped`, `${SECRET_B}: skipped`, `${COMBINED}: skipped`]);
    expect(aws.proxy.count({ operation: "CreateSecret" })).toBe(1);
    expect(await secretNames()).not.toContain(COMBINED);
    await expectNothingHalfWritten();
  });

  it("EKS DescribeCluster never answers: Secrets Manager is written completely, the cluster is skipped: deadline, the run fails", async () => {
    await new EKSClient({ region: "us-east-1", endpoint: aws.moto.url }).send(
      new CreateClusterCommand({
        name: "prod-a",
        roleArn: "arn:aws:iam::123456789012:role/eks",
        resourcesVpcConfig: { subnetIds: ["subnet-0123456789abcdef0"] },
      }),
    );
    aws.proxy.hang({ match: { method: "GET", path: "/clusters/prod-a" } });
    const { report, ms } = await runWithin(4_000, "heal", { EKS_CLUSTERS: "prod-a", FALLBACK_MODE: "on-heal" });
    expect(ms).toBeLessThan(4_000 + SLACK_MS);
    expect(report.ok).toBe(false);
    expect(outcomes(report)).toEqual(ALL_CREATED);
    expect(report.kubernetes!.clusters[0]).toMatchObject({ cluster: "prod-a", ok: false, skipped: "deadline" });
    expect(report.errors.join("\n")).toMatch(/prod-a: skipped: deadline/);
    await expectNothingHalfWritten();
  });
});

describe("the fault proxy's hang mode (what the deadline tests put in front of an endpoint)", () => {
  const target = { "x-amz-target": "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken", "content-type": "application/x-amz-json-1.1" };

  it("accepts a request and never answers it: only the client's own timeout ends it", async () => {
    aws.proxy.hang({ match: { operation: "GetAuthorizationToken" }, times: 1 });
    const started = performance.now();
    await expect(fetch(aws.url, { method: "POST", headers: target, body: "{}", signal: AbortSignal.timeout(800) })).rejects.toThrow(/aborted|timeout/i);
    expect(performance.now() - started).toBeGreaterThanOrEqual(750);
    const [hung] = aws.proxy.requests({ operation: "GetAuthorizationToken" });
    expect(hung).toMatchObject({ operation: "GetAuthorizationToken", outcome: "hung" });
    expect(hung!.status).toBeUndefined();
    expect(hung!.faults).toContain("hang");
    // The rule was for one request: the next one is forwarded (moto answers).
    const next = await fetch(aws.url, { method: "POST", headers: target, body: "{}", signal: AbortSignal.timeout(10_000) });
    expect(next.status).toBe(200);
  });
});
