/**
 * The doctor's checks, each pass / fail / skip, with the AWS SDK mocked (aws-sdk-client-mock)
 * and the registry a local HTTPS server (a self-signed certificate its test agent trusts): what
 * each line says, that exactly the broken line fails, that nothing is written, and that the
 * token never reaches the Report.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, createServer, type Server } from "node:https";
import type { IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { ECRPUBLICClient, GetAuthorizationTokenCommand as GetPublicTokenCommand } from "@aws-sdk/client-ecr-public";
import { DescribeSecretCommand, GetResourcePolicyCommand, GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config";
import { sdkIdentity } from "../../src/doctor/aws-checks";
import { createDoctorStep, type DoctorOptions } from "../../src/doctor/doctor";
import { httpsRegistryRequest } from "../../src/doctor/registry-http";
import type { ClusterChecksInput, DoctorCheck } from "../../src/doctor/types";
import { formatReport, type Report } from "../../src/report/report";
import { parseManualRequest } from "../../src/request/triggers";
import { sdkEcrApi, sdkSecretsManagerApi } from "../../src/rotation/aws";
import { registrySecretValue } from "../../src/rotation/secret-payload";
import { readerPolicy } from "../../src/rotation/secret-sharing";
import { runRequest } from "../../src/run/run";
import { deadlineIn } from "../../src/shared/deadline";
import { parseRegistryHost } from "../../src/formats/registry-host";
import { mockAwsSdk, OWNED_TAGS, secretNotFound } from "../support/aws-fakes";
import { authorizationData, EXPIRES, HOST_EUW1, HOST_USE1, NOW, PASSWORD, RAW_TOKEN, secretNeedles, USERNAME } from "../support/fixtures";
import { selfSignedCert } from "../support/tls";

const { ecr, sm } = mockAwsSdk();
const sts = mockClient(STSClient);
const ecrPublic = mockClient(ECRPUBLICClient);
const SECRET = "prod/ecr/credentials";
const ARN = `arn:aws:secretsmanager:us-east-1:123456789012:secret:${SECRET}-AbCdEf`;
const ROLE_SESSION = "arn:aws:sts::123456789012:assumed-role/rotator-role/ecr-token-rotator";
const KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const DIGEST = `sha256:${"a".repeat(64)}`;

// ---- the registry: a local HTTPS server answering like ECR ----
let server: Server;
let port: number;
let agent: Agent;
const dir = mkdtempSync(join(tmpdir(), "doctor-unit-"));
/** What the registry answers for the probe manifest, and the Basic credential it accepts. */
const registry = { manifest: 200, accepted: RAW_TOKEN, requests: [] as Array<{ method: string; url: string; accept?: string }> };

function answer(req: IncomingMessage): number {
  registry.requests.push({ method: req.method ?? "", url: req.url ?? "", ...(req.headers.accept ? { accept: req.headers.accept } : {}) });
  if (req.headers.authorization !== `Basic ${registry.accepted}`) return 401;
  if (req.url === "/v2/") return 200;
  if (req.method === "HEAD" && req.url === "/v2/team/app/manifests/1") return registry.manifest;
  return 404;
}

beforeAll(async () => {
  const { key, cert } = selfSignedCert(dir, "ec");
  agent = new Agent({ ca: cert, keepAlive: false });
  server = createServer({ key, cert }, (req, res) => {
    const status = answer(req);
    const headers: Record<string, string> =
      status === 200 && req.url !== "/v2/" ? { "content-type": "application/vnd.oci.image.manifest.v1+json", "docker-content-digest": DIGEST } : {};
    res.writeHead(status, headers);
    res.end(req.method === "HEAD" ? undefined : status === 200 ? "{}" : '{"errors":[{"code":"UNAUTHORIZED"}]}');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

/** Every registry host goes to the local server (its certificate is for 127.0.0.1). */
const toLocal = (a = agent) => {
  const real = httpsRegistryRequest({ agent: a });
  return (input: Parameters<typeof real>[0]) => real({ ...input, host: `127.0.0.1:${port}` });
};

const storedValue = (expiresAt = EXPIRES, host = HOST_USE1) =>
  JSON.stringify(
    registrySecretValue({ registry: parseRegistryHost(host), username: USERNAME, password: PASSWORD, expiresAt, proxyEndpoint: `https://${host}` }),
  );

beforeEach(() => {
  ecr.reset();
  sm.reset();
  sts.reset();
  registry.manifest = 200;
  registry.accepted = RAW_TOKEN;
  registry.requests = [];
  ecr.on(GetAuthorizationTokenCommand).callsFake(async (_input, getClient) => {
    const region = await getClient().config.region();
    return { authorizationData: [authorizationData(region)] };
  });
  sts.on(GetCallerIdentityCommand).resolves({ Arn: ROLE_SESSION, Account: "123456789012", UserId: "AROA:ecr-token-rotator" });
  sm.on(DescribeSecretCommand).callsFake((input: { SecretId: string }) => ({
    ARN: ARN.replace(SECRET, input.SecretId),
    Name: input.SecretId,
    Tags: OWNED_TAGS,
    VersionIdsToStages: { v1: ["AWSCURRENT"] },
  }));
  // Each secret holds its own registry's value (the names carry the region).
  sm.on(GetSecretValueCommand).callsFake((input: { SecretId: string }) => ({
    SecretString: storedValue(EXPIRES, input.SecretId.includes("eu-west-1") ? HOST_EUW1 : HOST_USE1),
    VersionId: "v1",
    CreatedDate: NOW,
  }));
  ecrPublic.reset();
  ecrPublic.on(GetPublicTokenCommand).resolves({ authorizationData: { authorizationToken: RAW_TOKEN, expiresAt: EXPIRES } });
});

const BASE_ENV = { AWS_REGION: "us-east-1", ECR_REGISTRIES: HOST_USE1, SECRET_NAME: SECRET, PROBE_IMAGE: "team/app:1" };

async function doctor(env: Record<string, string | undefined> = {}, options: DoctorOptions = {}, deadline?: ReturnType<typeof deadlineIn>): Promise<Report> {
  const config = loadConfig(Object.fromEntries(Object.entries({ ...BASE_ENV, ...env }).filter(([, v]) => v !== undefined)));
  const step = createDoctorStep(config, { identity: sdkIdentity("us-east-1"), registryRequest: toLocal(), ...options });
  return runRequest(parseManualRequest({ action: "doctor" }), config, {
    ecr: sdkEcrApi(deadline),
    secrets: sdkSecretsManagerApi("us-east-1", deadline),
    now: () => NOW,
    deadline,
    doctor: async () => step,
  });
}

const line = (report: Report, name: string): DoctorCheck => {
  const found = report.checks?.find((c) => c.name === name);
  if (!found) throw new Error(`no check ${name} in ${report.checks?.map((c) => c.name).join(", ")}`);
  return found;
};
const failed = (report: Report) => report.checks!.filter((c) => c.status === "fail").map((c) => c.name);

/** No write of any kind reached Secrets Manager. */
function expectNoWrite(): void {
  const names = sm.calls().map((call) => (call.args[0] as object).constructor.name);
  expect(names.length).toBeGreaterThan(0);
  for (const name of names) expect(["DescribeSecretCommand", "GetSecretValueCommand", "GetResourcePolicyCommand"]).toContain(name);
}

function expectNoSecret(report: Report): void {
  const text = JSON.stringify(report) + formatReport(report);
  for (const needle of [...secretNeedles(), RAW_TOKEN]) expect(text).not.toContain(needle);
}

describe("doctor: a healthy deployment", () => {
  it("passes every line, reads only, and one GetAuthorizationToken per region", async () => {
    const report = await doctor({ ECR_REGISTRIES: `${HOST_USE1},${HOST_EUW1}`, SECRET_NAME: "ecr/{region}/credentials" });
    expect(report.checks!.map((c) => `${c.status} ${c.name}`)).toEqual([
      "pass aws identity",
      "pass ecr token us-east-1",
      "pass ecr token eu-west-1",
      `pass registry login ${HOST_USE1}`,
      `pass registry pull ${HOST_USE1}/team/app:1`,
      `pass registry login ${HOST_EUW1}`,
      `pass registry pull ${HOST_EUW1}/team/app:1`,
      "pass secret exists ecr/us-east-1/credentials",
      "pass secret owned ecr/us-east-1/credentials",
      "pass secret validity ecr/us-east-1/credentials",
      "skip secret policy ecr/us-east-1/credentials",
      "skip secret kms ecr/us-east-1/credentials",
      "skip secret replicas ecr/us-east-1/credentials",
      "pass secret exists ecr/eu-west-1/credentials",
      "pass secret owned ecr/eu-west-1/credentials",
      "pass secret validity ecr/eu-west-1/credentials",
      "skip secret policy ecr/eu-west-1/credentials",
      "skip secret kms ecr/eu-west-1/credentials",
      "skip secret replicas ecr/eu-west-1/credentials",
      "skip clusters",
    ]);
    expect(report.ok).toBe(true);
    expect(ecr.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(2);
    expect(report.ecrCalls).toBe(2);
    expect(line(report, "aws identity").detail).toBe(`${ROLE_SESSION} (account 123456789012)`);
    expect(line(report, `registry pull ${HOST_USE1}/team/app:1`).detail).toContain(`application/vnd.oci.image.manifest.v1+json, ${DIGEST}`);
    // The function cannot see the IAM-only pullRepositories: the line says the default and where it is narrowed.
    expect(line(report, `registry pull ${HOST_USE1}/team/app:1`).detail).toContain(
      "every repository of the configured registries (repository/*), unless the deploy's pullRepositories",
    );
    expect(line(report, "secret validity ecr/us-east-1/credentials").detail).toMatch(
      /valid until 2026-11-24T20:00:00.000Z \(12h00m left; minimum TOKEN_MIN_VALIDITY_MINUTES=60\)/,
    );
    expect(line(report, "clusters").detail).toMatch(/no cluster configured/);
    // The manifest HEAD asks for every OCI and Docker manifest type.
    const head = registry.requests.find((r) => r.method === "HEAD")!;
    expect(head.accept).toContain("application/vnd.oci.image.index.v1+json");
    expect(head.accept).toContain("application/vnd.docker.distribution.manifest.v2+json");
    expectNoWrite();
    expectNoSecret(report);
  });

  it("with one registry every line passes or is skipped for a stated reason; ok, no errors", async () => {
    const report = await doctor();
    expect(failed(report)).toEqual([]);
    expect(report).toMatchObject({ ok: true, action: "doctor", errors: [], registries: [] });
    for (const check of report.checks!) {
      expect(check.fix).toBeUndefined();
      if (check.status === "skip") expect(check.detail).toMatch(/not set|no cluster configured/);
    }
    expectNoWrite();
  });

  it("the default registry (no ECR_REGISTRIES) is the token's proxy endpoint", async () => {
    const report = await doctor({ ECR_REGISTRIES: undefined });
    expect(line(report, `registry login ${HOST_USE1}`).status).toBe("pass");
    expect(line(report, `secret exists ${SECRET}`).status).toBe("pass");
  });

  it("checks the combined secret too (its own format)", async () => {
    sm.on(GetSecretValueCommand, { SecretId: "ecr/all" }).resolves({
      SecretString: JSON.stringify({ registries: [HOST_USE1], expires_at: EXPIRES.toISOString(), dockerconfigjson: "{}" }),
    });
    const report = await doctor({ COMBINED_SECRET_NAME: "ecr/all" });
    expect(line(report, "secret validity ecr/all").status).toBe("pass");
    expect(failed(report)).toEqual([]);
  });
});

describe("doctor: AWS identity and tokens", () => {
  it("credentials that do not work fail `aws identity` only", async () => {
    sts
      .on(GetCallerIdentityCommand)
      .rejects(Object.assign(new Error("The security token included in the request is invalid."), { name: "InvalidClientTokenId" }));
    const report = await doctor();
    expect(failed(report)).toEqual(["aws identity"]);
    expect(line(report, "aws identity")).toMatchObject({
      detail: expect.stringContaining("InvalidClientTokenId"),
      fix: expect.stringContaining("execution role"),
    });
    expect(report.ok).toBe(false);
    expect(report.errors).toEqual([`aws identity: ${line(report, "aws identity").detail}`]);
    // One cause, one fix: every check that needs the credentials is skipped, naming the cause.
    for (const check of report.checks!.slice(1)) {
      expect(check).toMatchObject({
        status: "skip",
        detail: expect.stringMatching(/^the AWS credentials were refused \(InvalidClientTokenId\): see aws identity$|^no cluster configured/),
      });
    }
    expect(ecr.calls()).toHaveLength(0);
    expect(sm.calls()).toHaveLength(0);
  });

  it.each([
    ["no credentials at all", "CredentialsProviderError", "Could not load credentials from any providers", "no AWS credentials: see aws identity"],
    [
      "expired credentials",
      "ExpiredToken",
      "The security token included in the request is expired",
      "the AWS credentials have expired (ExpiredToken): see aws identity",
    ],
  ])("%s: one FAIL (aws identity) with one fix, every other line skipped with the cause; no other call made", async (_what, name, message, reason) => {
    sts.on(GetCallerIdentityCommand).rejects(Object.assign(new Error(message), { name }));
    const report = await doctor({ ECR_REGISTRIES: `${HOST_USE1},${HOST_EUW1}`, SECRET_NAME: "ecr/{region}/credentials", COMBINED_SECRET_NAME: "ecr/all" });
    expect(failed(report)).toEqual(["aws identity"]);
    expect(report.checks!.filter((c) => c.fix !== undefined).map((c) => c.name)).toEqual(["aws identity"]);
    expect(report.checks!.map((c) => `${c.status} ${c.name}`)).toEqual([
      "fail aws identity",
      "skip ecr token us-east-1",
      "skip ecr token eu-west-1",
      `skip registry login ${HOST_USE1}`,
      `skip registry pull ${HOST_USE1}/team/app:1`,
      `skip registry login ${HOST_EUW1}`,
      `skip registry pull ${HOST_EUW1}/team/app:1`,
      ...["ecr/us-east-1/credentials", "ecr/eu-west-1/credentials", "ecr/all"].flatMap((secret) =>
        ["exists", "owned", "validity", "policy", "kms", "replicas"].map((area) => `skip secret ${area} ${secret}`),
      ),
      "skip clusters",
    ]);
    for (const check of report.checks!.slice(1, -1)) expect(check.detail).toBe(reason);
    expect(line(report, "clusters").detail).toMatch(/no cluster configured/);
    expect(report.ecrCalls).toBe(0);
    expect(ecr.calls()).toHaveLength(0);
    expect(sm.calls()).toHaveLength(0);
    expect(registry.requests).toEqual([]);
  });

  it("with no credentials and the default registry, `registry default` is skipped for the same cause (not blamed on the token)", async () => {
    sts.on(GetCallerIdentityCommand).rejects(Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" }));
    const report = await doctor({ ECR_REGISTRIES: undefined });
    expect(report.checks!.map((c) => `${c.status} ${c.name}`)).toEqual([
      "fail aws identity",
      "skip ecr token us-east-1",
      "skip registry default",
      "skip clusters",
    ]);
    expect(line(report, "registry default").detail).toBe("no AWS credentials: see aws identity");
  });

  it("with clusters configured, the cluster half is not loaded without credentials: one `clusters` line says why", async () => {
    sts.on(GetCallerIdentityCommand).rejects(Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" }));
    let loaded = 0;
    const report = await doctor(
      { EKS_CLUSTERS: '[{"name":"prod","region":"us-east-1","endpoint":"https://127.0.0.1:6443"}]' },
      {
        clusterChecks: () => {
          loaded++;
          return Promise.reject(new Error("must not load"));
        },
      },
    );
    expect(loaded).toBe(0);
    expect(line(report, "clusters")).toEqual({ name: "clusters", status: "skip", detail: "no AWS credentials: see aws identity" });
  });

  it("STS unreachable (not a credentials fault) fails `aws identity`, and the other checks still run", async () => {
    sts
      .on(GetCallerIdentityCommand)
      .rejects(Object.assign(new Error("connect ETIMEDOUT sts.us-east-1.amazonaws.com"), { name: "TimeoutError", code: "ETIMEDOUT" }));
    const report = await doctor();
    expect(failed(report)).toEqual(["aws identity"]);
    expect(line(report, "ecr token us-east-1").status).toBe("pass");
    expect(line(report, `registry login ${HOST_USE1}`).status).toBe("pass");
    expect(line(report, `secret exists ${SECRET}`).status).toBe("pass");
  });

  it("GetAuthorizationToken refused: `ecr token <region>` fails, the registry lines say why they were skipped", async () => {
    ecr
      .on(GetAuthorizationTokenCommand)
      .rejects(Object.assign(new Error("User is not authorized to perform: ecr:GetAuthorizationToken"), { name: "AccessDeniedException" }));
    const report = await doctor();
    expect(failed(report)).toEqual(["ecr token us-east-1"]);
    expect(line(report, "ecr token us-east-1").fix).toMatch(/ecr:GetAuthorizationToken on Resource "\*"/);
    expect(line(report, `registry login ${HOST_USE1}`)).toMatchObject({ status: "skip", detail: 'no token: "ecr token us-east-1" failed' });
    expect(line(report, `registry pull ${HOST_USE1}/team/app:1`).status).toBe("skip");
    expect(line(report, `secret validity ${SECRET}`).status).toBe("pass");
  });

  it("a token already expired by the clock fails with a clock fix", async () => {
    ecr.on(GetAuthorizationTokenCommand).resolves({ authorizationData: [authorizationData("us-east-1", { expiresAt: new Date(NOW.getTime() - 1000) })] });
    const report = await doctor();
    expect(line(report, "ecr token us-east-1")).toMatchObject({ status: "fail", fix: expect.stringContaining("--now") });
  });

  it("the fix follows the SDK error's name, not its text: an AccessDenied that says 'expired' gets the IAM fix, ExpiredTokenException the credentials'", async () => {
    ecr
      .on(GetAuthorizationTokenCommand)
      .rejects(Object.assign(new Error("the permissions boundary of the expired project denies ecr:GetAuthorizationToken"), { name: "AccessDeniedException" }));
    const denied = await doctor();
    expect(line(denied, "ecr token us-east-1").fix).toMatch(/ecr:GetAuthorizationToken on Resource "\*"/);
    expect(line(denied, "ecr token us-east-1").fix).not.toContain("--now");
    ecr.reset();
    ecr
      .on(GetAuthorizationTokenCommand)
      .rejects(Object.assign(new Error("The security token included in the request is expired"), { name: "ExpiredTokenException" }));
    const expired = await doctor();
    expect(line(expired, "ecr token us-east-1").fix).toContain("session has expired");
  });
});

describe("doctor: the token at the registry", () => {
  it("a token the registry refuses fails `registry login` only; the pull line is skipped (one cause, one fix)", async () => {
    registry.accepted = Buffer.from("AWS:another-password").toString("base64");
    const report = await doctor();
    expect(failed(report)).toEqual([`registry login ${HOST_USE1}`]);
    expect(line(report, `registry login ${HOST_USE1}`)).toMatchObject({
      detail: "the registry refused the token GetAuthorizationToken issued in us-east-1 (HTTP 401)",
      fix: expect.stringContaining("valid only for registries of the region"),
    });
    expect(line(report, `registry pull ${HOST_USE1}/team/app:1`)).toMatchObject({ status: "skip", detail: expect.stringContaining("did not pass") });
    expectNoSecret(report);
  });

  it("a role without pull rights: the pull line fails naming the ECR actions, the repository and the role", async () => {
    registry.manifest = 403;
    const report = await doctor();
    expect(failed(report)).toEqual([`registry pull ${HOST_USE1}/team/app:1`]);
    const fix = line(report, `registry pull ${HOST_USE1}/team/app:1`).fix!;
    expect(fix).toContain("ecr:BatchGetImage");
    expect(fix).toContain("ecr:GetDownloadUrlForLayer");
    expect(fix).toContain("arn:aws:ecr:us-east-1:123456789012:repository/team/app");
    expect(fix).toContain("repository policy");
    expect(fix).toContain("arn:aws:iam::123456789012:role/rotator-role");
  });

  it("a missing image: the pull line fails saying it does not exist", async () => {
    registry.manifest = 404;
    const report = await doctor();
    expect(failed(report)).toEqual([`registry pull ${HOST_USE1}/team/app:1`]);
    expect(line(report, `registry pull ${HOST_USE1}/team/app:1`)).toMatchObject({
      detail: `team/app:1 does not exist in ${HOST_USE1} (HTTP 404: no such repository, tag or digest)`,
      fix: expect.stringContaining("PROBE_IMAGE"),
    });
  });

  it("a digest reference is probed as such", async () => {
    await doctor({ PROBE_IMAGE: `team/app@${DIGEST}` });
    expect(registry.requests.find((r) => r.method === "HEAD")?.url).toBe(`/v2/team/app/manifests/${DIGEST}`);
  });

  it("without PROBE_IMAGE the pull line is skipped, saying how to turn it on", async () => {
    const report = await doctor({ PROBE_IMAGE: undefined });
    expect(line(report, `registry pull ${HOST_USE1}`)).toMatchObject({ status: "skip", detail: expect.stringContaining("PROBE_IMAGE is not set") });
    expect(line(report, `registry pull ${HOST_USE1}`).detail).toContain("(repository/*), unless the deploy's pullRepositories parameter narrows it");
    expect(registry.requests.filter((r) => r.method === "HEAD")).toEqual([]);
  });

  it("an unreachable registry and an untrusted certificate fail the login line with the network or TLS fix", async () => {
    const closed = httpsRegistryRequest({ agent });
    const refused = await doctor({}, { registryRequest: (input) => closed({ ...input, host: "127.0.0.1:1" }) });
    expect(line(refused, `registry login ${HOST_USE1}`)).toMatchObject({
      status: "fail",
      detail: expect.stringContaining("ECONNREFUSED"),
      fix: expect.stringContaining(`com.amazonaws.us-east-1.ecr.dkr`),
    });
    const untrusted = await doctor({}, { registryRequest: toLocal(new Agent({ keepAlive: false })) });
    expect(line(untrusted, `registry login ${HOST_USE1}`)).toMatchObject({ status: "fail", fix: expect.stringContaining("NODE_EXTRA_CA_CERTS") });
  });

  it("ECR Public is not probed at /v2/ (its token is checked by `ecr public token`)", async () => {
    const report = await doctor({ ECR_REGISTRIES: `${HOST_USE1},public.ecr.aws`, SECRET_NAME: "ecr/{account}/{region}" });
    expect(line(report, "ecr public token")).toMatchObject({ status: "pass", detail: expect.stringContaining("public.ecr.aws") });
    expect(line(report, "registry login public.ecr.aws")).toMatchObject({ status: "skip", detail: expect.stringContaining("ECR Public") });
    expect(line(report, `registry login ${HOST_USE1}`).status).toBe("pass");
    expect(report.ecrCalls).toBe(2);
  });
});

describe("doctor: each secret", () => {
  it("a missing secret fails `secret exists`; the other five say they were skipped because of it", async () => {
    sm.on(DescribeSecretCommand).rejects(secretNotFound());
    const report = await doctor();
    expect(failed(report)).toEqual([`secret exists ${SECRET}`]);
    expect(line(report, `secret exists ${SECRET}`).fix).toMatch(/ecr-token-rotator rotate creates it/);
    for (const area of ["owned", "validity", "policy", "kms", "replicas"]) {
      expect(line(report, `secret ${area} ${SECRET}`)).toMatchObject({ status: "skip", detail: `"secret exists ${SECRET}" did not pass` });
    }
  });

  it("a secret scheduled for deletion fails `secret exists` with the restore command", async () => {
    sm.on(DescribeSecretCommand).resolves({ ARN, Tags: OWNED_TAGS, DeletedDate: NOW, VersionIdsToStages: { v1: ["AWSCURRENT"] } });
    const report = await doctor();
    expect(line(report, `secret exists ${SECRET}`).fix).toBe(`aws secretsmanager restore-secret --secret-id ${SECRET}`);
  });

  it("a secret of another owner fails `secret owned` only; ADOPT_EXISTING_SECRET=true makes it pass", async () => {
    sm.on(DescribeSecretCommand).resolves({ ARN, Tags: [{ Key: "team", Value: "platform" }], VersionIdsToStages: { v1: ["AWSCURRENT"] } });
    const report = await doctor();
    expect(failed(report)).toEqual([`secret owned ${SECRET}`]);
    expect(line(report, `secret owned ${SECRET}`).fix).toContain("--tags Key=ecr-token-rotator:managed,Value=true");
    const adopting = await doctor({ ADOPT_EXISTING_SECRET: "true" });
    expect(line(adopting, `secret owned ${SECRET}`)).toMatchObject({ status: "pass", detail: expect.stringContaining("the next rotation adopts it") });
  });

  it.each([
    ["expired", storedValue(new Date(NOW.getTime() - 3600_000)), /expired at 2026-11-24T07:00:00.000Z \(1h00m ago\)/],
    ["below the minimum", storedValue(new Date(NOW.getTime() + 30 * 60_000)), /in 0h30m: less than TOKEN_MIN_VALIDITY_MINUTES=60/],
    ["not the product's JSON", "not json", /not JSON/],
    ["another registry's value", storedValue(EXPIRES, HOST_EUW1), /its registry_url is .*, not 123456789012\.dkr\.ecr\.us-east-1/],
    ["no expires_at", JSON.stringify({ registry_url: HOST_USE1, auth_token: PASSWORD }), /no valid expires_at/],
  ])("a stored value %s fails `secret validity` only", async (_what, value, detail) => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: value, VersionId: "v1" });
    const report = await doctor();
    expect(failed(report)).toEqual([`secret validity ${SECRET}`]);
    expect(line(report, `secret validity ${SECRET}`).detail).toMatch(detail);
    expectNoSecret(report);
  });

  it("validity is judged against the token clock, not the wall clock", async () => {
    const config = loadConfig(BASE_ENV);
    const step = createDoctorStep(config, { identity: sdkIdentity("us-east-1"), registryRequest: toLocal() });
    const later = new Date(EXPIRES.getTime() + 1000);
    const report = await runRequest(parseManualRequest({ action: "doctor" }), config, {
      ecr: sdkEcrApi(),
      secrets: sdkSecretsManagerApi("us-east-1"),
      now: () => NOW,
      tokenNow: () => later,
      doctor: async () => step,
    });
    expect(line(report, `secret validity ${SECRET}`).status).toBe("fail");
    expect(line(report, "ecr token us-east-1").status).toBe("fail");
  });

  it("SECRET_READERS: the resource policy passes when it is the product's, fails when missing or different", async () => {
    const env = { SECRET_READERS: "210987654321", KMS_KEY_ID: KEY_ARN };
    sm.on(GetResourcePolicyCommand).resolves({ ResourcePolicy: readerPolicy(["210987654321"], "aws") });
    expect(line(await doctor(env), `secret policy ${SECRET}`)).toMatchObject({
      status: "pass",
      detail: expect.stringContaining("arn:aws:iam::210987654321:root"),
    });
    sm.on(GetResourcePolicyCommand).resolves({});
    const missing = await doctor(env);
    expect(failed(missing)).toContain(`secret policy ${SECRET}`);
    expect(line(missing, `secret policy ${SECRET}`).fix).toContain(`put-resource-policy --secret-id ${SECRET} --block-public-policy`);
    sm.on(GetResourcePolicyCommand).resolves({ ResourcePolicy: readerPolicy(["111111111111"], "aws") });
    expect(line(await doctor(env), `secret policy ${SECRET}`).detail).toBe("its resource policy is not the one SECRET_READERS asks for");
  });

  it("KMS_KEY_ID: same key passes (ARN or id), the AWS managed key fails, alias vs key id is skipped", async () => {
    sm.on(DescribeSecretCommand).resolves({ ARN, Tags: OWNED_TAGS, KmsKeyId: KEY_ARN, VersionIdsToStages: { v1: ["AWSCURRENT"] } });
    expect(line(await doctor({ KMS_KEY_ID: KEY_ARN }), `secret kms ${SECRET}`).status).toBe("pass");
    expect(line(await doctor({ KMS_KEY_ID: "1234abcd-12ab-34cd-56ef-1234567890ab" }), `secret kms ${SECRET}`).status).toBe("pass");
    expect(line(await doctor({ KMS_KEY_ID: "alias/ecr" }), `secret kms ${SECRET}`).status).toBe("skip");
    const other = await doctor({ KMS_KEY_ID: "arn:aws:kms:us-east-1:123456789012:key/99999999-12ab-34cd-56ef-1234567890ab" });
    expect(failed(other)).toEqual([`secret kms ${SECRET}`]);
    sm.on(DescribeSecretCommand).resolves({ ARN, Tags: OWNED_TAGS, VersionIdsToStages: { v1: ["AWSCURRENT"] } });
    const managed = await doctor({ KMS_KEY_ID: KEY_ARN });
    expect(line(managed, `secret kms ${SECRET}`)).toMatchObject({
      status: "fail",
      detail: `encrypted with the AWS managed key aws/secretsmanager, not KMS_KEY_ID=${KEY_ARN}`,
      fix: expect.stringContaining(`update-secret --secret-id ${SECRET} --kms-key-id ${KEY_ARN}`),
    });
  });

  it("SECRET_REPLICA_REGIONS: all InSync passes; a missing, Failed or InProgress replica fails naming it", async () => {
    const env = { SECRET_REPLICA_REGIONS: "eu-west-1,us-west-2" };
    const withReplicas = (status: Array<{ Region: string; Status: string; StatusMessage?: string }>) =>
      sm.on(DescribeSecretCommand).resolves({ ARN, Tags: OWNED_TAGS, ReplicationStatus: status as never, VersionIdsToStages: { v1: ["AWSCURRENT"] } });
    withReplicas([
      { Region: "eu-west-1", Status: "InSync" },
      { Region: "us-west-2", Status: "InSync" },
    ]);
    expect(line(await doctor(env), `secret replicas ${SECRET}`)).toMatchObject({ status: "pass", detail: "in sync in eu-west-1, us-west-2" });
    withReplicas([{ Region: "eu-west-1", Status: "Failed", StatusMessage: "access denied to the KMS key" }]);
    const broken = await doctor(env);
    expect(failed(broken)).toEqual([`secret replicas ${SECRET}`]);
    expect(line(broken, `secret replicas ${SECRET}`)).toMatchObject({
      detail: "eu-west-1 Failed: access denied to the KMS key; no replica in us-west-2",
      fix: expect.stringContaining("adds the missing replicas"),
    });
  });

  it("a read the role may not make fails with the permission to grant", async () => {
    sm.on(GetSecretValueCommand).rejects(
      Object.assign(new Error("not authorized to perform secretsmanager:GetSecretValue"), { name: "AccessDeniedException" }),
    );
    const report = await doctor();
    expect(line(report, `secret validity ${SECRET}`)).toMatchObject({ status: "fail", fix: expect.stringContaining("secretsmanager:GetSecretValue") });
  });
});

describe("doctor: clusters, deadline", () => {
  const CLUSTERS = '[{"name":"prod","region":"us-east-1","endpoint":"https://127.0.0.1:6443"}]';

  it("loads the cluster half only when clusters are configured, and hands it the request's clusters, the clock and the deadline", async () => {
    let loaded = 0;
    let seen: ClusterChecksInput | undefined;
    const clusterChecks = async () => {
      loaded++;
      return async (input: ClusterChecksInput): Promise<DoctorCheck[]> => {
        seen = input;
        return [
          { name: "cluster rbac prod patch secrets", status: "fail", detail: "forbidden", fix: "kubectl apply -f infra/k8s/components/fallback/rbac.yaml" },
        ];
      };
    };
    await doctor({}, { clusterChecks });
    expect(loaded).toBe(0);
    const config = loadConfig({ ...BASE_ENV, EKS_CLUSTERS: CLUSTERS });
    const step = createDoctorStep(config, { identity: sdkIdentity("us-east-1"), registryRequest: toLocal(), clusterChecks });
    const deadline = deadlineIn(60_000);
    const report = await runRequest(parseManualRequest({ action: "doctor", clusters: ["prod"] }), config, {
      ecr: sdkEcrApi(),
      secrets: sdkSecretsManagerApi("us-east-1"),
      now: () => NOW,
      deadline,
      doctor: async () => step,
    });
    expect(loaded).toBe(1);
    expect(seen).toMatchObject({ clusters: ["prod"], deadline });
    expect(seen!.config).toBe(config);
    expect(seen!.tokenNow()).toEqual(expect.any(Date));
    expect(failed(report)).toEqual(["cluster rbac prod patch secrets"]);
    expect(report.checks!.at(-1)!.name).toBe("cluster rbac prod patch secrets");
  });

  it("a cluster half that throws is one failed `clusters` line; the rest of the checklist stands", async () => {
    const config = loadConfig({ ...BASE_ENV, EKS_CLUSTERS: CLUSTERS });
    const step = createDoctorStep(config, {
      identity: sdkIdentity("us-east-1"),
      registryRequest: toLocal(),
      clusterChecks: async () => async () => {
        throw new Error("DescribeCluster failed");
      },
    });
    const report = await runRequest(parseManualRequest({ action: "doctor" }), config, {
      ecr: sdkEcrApi(),
      secrets: sdkSecretsManagerApi("us-east-1"),
      now: () => NOW,
      doctor: async () => step,
    });
    expect(failed(report)).toEqual(["clusters"]);
    expect(line(report, "clusters").detail).toBe("the cluster checks could not run: DescribeCluster failed");
  });

  it("a deadline already passed fails every line with `deadline:` and the Report says it was reached", async () => {
    const deadline = deadlineIn(0);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const report = await doctor({}, {}, deadline);
    expect(report.ok).toBe(false);
    expect(report.deadline).toMatchObject({ reached: true });
    expect(line(report, "aws identity")).toMatchObject({
      status: "fail",
      detail: expect.stringMatching(/^deadline:/),
      fix: expect.stringContaining("--timeout"),
    });
    expect(line(report, `secret exists ${SECRET}`).status).toBe("fail");
  });
});
