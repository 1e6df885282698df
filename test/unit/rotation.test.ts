import { GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { CreateSecretCommand, DescribeSecretCommand, GetSecretValueCommand, PutSecretValueCommand, TagResourceCommand } from "@aws-sdk/client-secrets-manager";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sdkEcrApi, sdkSecretsManagerApi } from "../../src/rotation/aws";
import { loadConfig } from "../../src/config/config";
import { BadRequestError } from "../../src/shared/errors";
import { runRequest } from "../../src/run/run";
import { clientRequestToken } from "../../src/rotation/secret-writer";
import { parseManualRequest, type Request } from "../../src/request/triggers";
import { mockAwsSdk, OWNED_TAGS, secretNotFound } from "../support/aws-fakes";
import { authorizationData, EXPIRES, HOST_EUW1, HOST_OTHER_ACCOUNT_USE1, HOST_USE1, NOW, PASSWORD, RAW_TOKEN } from "../support/fixtures";

const { ecr, sm } = mockAwsSdk();
const notFound = () => secretNotFound();

function config(extra: Record<string, string> = {}) {
  return loadConfig({ AWS_REGION: "us-east-1", ECR_REGISTRIES: HOST_USE1, SECRET_NAME: "production/ecr/credentials", ...extra });
}

function deps(now = NOW) {
  return { ecr: sdkEcrApi(), secrets: sdkSecretsManagerApi("us-east-1"), now: () => now };
}

function request(fields: Record<string, unknown> = {}): Request {
  return parseManualRequest({ action: "rotate", ...fields });
}

function storedValue(overrides: Record<string, unknown> = {}) {
  return JSON.stringify({ registry_url: HOST_USE1, auth_token: "older-password", username: "AWS", expires_at: NOW.toISOString(), ...overrides });
}

beforeEach(() => {
  ecr.reset();
  sm.reset();
  ecr.on(GetAuthorizationTokenCommand).callsFake((_input, getClient) => {
    // The mock sees which regional client asked: derive the region from its config.
    return getClient()
      .config.region()
      .then((region: string) => ({ authorizationData: [authorizationData(region)] }));
  });
});
afterEach(() => {
  ecr.reset();
  sm.reset();
});

describe("rotation into Secrets Manager", () => {
  it("creates a missing secret with the ESO contract, KMS key, tags and the ownership tag", async () => {
    sm.on(DescribeSecretCommand).rejects(notFound());
    sm.on(CreateSecretCommand).resolves({ VersionId: "v1" });
    const report = await runRequest(request(), config({ KMS_KEY_ID: "alias/ecr-creds", SECRET_TAGS: "team=platform,env=prod" }), deps());

    expect(report.ok).toBe(true);
    expect(report.registries).toEqual([
      expect.objectContaining({
        registry: HOST_USE1,
        secretName: "production/ecr/credentials",
        outcome: "created",
        expiresAt: EXPIRES.toISOString(),
        secondsRemaining: 12 * 3600,
      }),
    ]);
    const create = sm.commandCalls(CreateSecretCommand)[0]!.args[0].input;
    expect(create.Name).toBe("production/ecr/credentials");
    expect(create.KmsKeyId).toBe("alias/ecr-creds");
    expect(create.Tags).toEqual(expect.arrayContaining([{ Key: "team", Value: "platform" }, { Key: "env", Value: "prod" }, ...OWNED_TAGS]));
    const value = JSON.parse(create.SecretString!);
    expect(value).toEqual({
      registry_url: HOST_USE1,
      auth_token: PASSWORD,
      username: "AWS",
      proxy_endpoint: `https://${HOST_USE1}`,
      expires_at: EXPIRES.toISOString(),
      dockerconfigjson: JSON.stringify({ auths: { [HOST_USE1]: { username: "AWS", password: PASSWORD, auth: RAW_TOKEN } } }),
    });
    expect(create.ClientRequestToken).toBe(clientRequestToken("production/ecr/credentials", create.SecretString!));
  });

  it("updates an owned secret with PutSecretValue and a content-derived ClientRequestToken", async () => {
    sm.on(DescribeSecretCommand).resolves({ ARN: "arn:x", Tags: OWNED_TAGS, VersionIdsToStages: { v0: ["AWSCURRENT"] } });
    sm.on(GetSecretValueCommand).resolves({ SecretString: storedValue(), VersionId: "v0", CreatedDate: new Date(NOW.getTime() - 10 * 3600_000) });
    sm.on(PutSecretValueCommand).resolves({ VersionId: "v1" });
    const report = await runRequest(request(), config(), deps());
    expect(report.registries[0]).toMatchObject({ outcome: "updated", versionId: "v1" });
    const put = sm.commandCalls(PutSecretValueCommand)[0]!.args[0].input;
    expect(put.ClientRequestToken).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.parse(put.SecretString!).auth_token).toBe(PASSWORD);
    expect(sm.commandCalls(TagResourceCommand)).toHaveLength(0);
  });

  it("debounces: no new version when the stored one is younger than WRITE_DEBOUNCE_SECONDS, unless forced", async () => {
    sm.on(DescribeSecretCommand).resolves({ Tags: OWNED_TAGS, VersionIdsToStages: { v0: ["AWSCURRENT"] } });
    const storedExpiry = new Date(NOW.getTime() + 11 * 3600_000);
    sm.on(GetSecretValueCommand).resolves({
      SecretString: storedValue({ expires_at: storedExpiry.toISOString() }),
      VersionId: "v0",
      CreatedDate: new Date(NOW.getTime() - 120_000),
    });
    sm.on(PutSecretValueCommand).resolves({ VersionId: "v1" });

    const debounced = await runRequest(request(), config(), deps());
    expect(debounced.registries[0]).toMatchObject({ outcome: "debounced", expiresAt: storedExpiry.toISOString(), secondsRemaining: 11 * 3600 });
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(0);

    const forced = await runRequest(request({ force: true }), config(), deps());
    expect(forced.registries[0]).toMatchObject({ outcome: "updated" });
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(1);
  });

  it("writes nothing when the stored value is already identical", async () => {
    const identical = JSON.stringify({
      registry_url: HOST_USE1,
      auth_token: PASSWORD,
      username: "AWS",
      proxy_endpoint: `https://${HOST_USE1}`,
      expires_at: EXPIRES.toISOString(),
      dockerconfigjson: JSON.stringify({ auths: { [HOST_USE1]: { username: "AWS", password: PASSWORD, auth: RAW_TOKEN } } }),
    });
    sm.on(DescribeSecretCommand).resolves({ Tags: OWNED_TAGS, VersionIdsToStages: { v0: ["AWSCURRENT"] } });
    sm.on(GetSecretValueCommand).resolves({ SecretString: identical, VersionId: "v0", CreatedDate: new Date(NOW.getTime() - 11 * 3600_000) });
    const report = await runRequest(request({ force: true }), config(), deps());
    expect(report.registries[0]).toMatchObject({ outcome: "unchanged" });
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it("refuses a secret without the ownership tag, naming it, and writes nothing", async () => {
    sm.on(DescribeSecretCommand).resolves({ Tags: [{ Key: "team", Value: "other" }], VersionIdsToStages: { v0: ["AWSCURRENT"] } });
    const report = await runRequest(request(), config(), deps());
    expect(report.ok).toBe(false);
    expect(report.registries[0]).toMatchObject({ outcome: "failed" });
    expect(report.registries[0]!.reason).toContain('secret "production/ecr/credentials" left untouched');
    expect(report.registries[0]!.reason).toContain("ADOPT_EXISTING_SECRET");
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(0);
    expect(sm.commandCalls(TagResourceCommand)).toHaveLength(0);
  });

  it("adopts a hand-made secret in the course's format when ADOPT_EXISTING_SECRET=true, then tags it", async () => {
    sm.on(DescribeSecretCommand).resolves({ Tags: [], VersionIdsToStages: { v0: ["AWSCURRENT"] } });
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ registry_url: HOST_USE1, auth_token: "x" }),
      VersionId: "v0",
      CreatedDate: new Date(NOW.getTime() - 86_400_000),
    });
    sm.on(PutSecretValueCommand).resolves({ VersionId: "v1" });
    sm.on(TagResourceCommand).resolves({});
    const report = await runRequest(request(), config({ ADOPT_EXISTING_SECRET: "true" }), deps());
    expect(report.registries[0]).toMatchObject({ outcome: "updated", reason: "new token; secret adopted" });
    expect(sm.commandCalls(TagResourceCommand)[0]!.args[0].input.Tags).toEqual(OWNED_TAGS);
  });

  it("refuses an owned secret whose current value is not the product's JSON", async () => {
    sm.on(DescribeSecretCommand).resolves({ Tags: OWNED_TAGS, VersionIdsToStages: { v0: ["AWSCURRENT"] } });
    sm.on(GetSecretValueCommand).resolves({ SecretString: "hunter2 not json", VersionId: "v0", CreatedDate: new Date(0) });
    const report = await runRequest(request(), config(), deps());
    expect(report.ok).toBe(false);
    expect(report.registries[0]!.reason).toMatch(/production\/ecr\/credentials.*not JSON/);
    expect(report.registries[0]!.reason).not.toContain("hunter2");
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it("refuses a secret scheduled for deletion", async () => {
    sm.on(DescribeSecretCommand).resolves({ Tags: OWNED_TAGS, DeletedDate: new Date(NOW.getTime() - 1000) });
    const report = await runRequest(request(), config(), deps());
    expect(report.registries[0]!.reason).toContain("scheduled for deletion");
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it("dry run reads but writes nothing and says what it would do", async () => {
    sm.on(DescribeSecretCommand).rejects(notFound());
    const report = await runRequest(request({ dryRun: true }), config(), deps());
    expect(report).toMatchObject({ ok: true, dryRun: true });
    expect(report.registries[0]).toMatchObject({ outcome: "would-create" });
    expect(sm.commandCalls(CreateSecretCommand)).toHaveLength(0);
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });
});

describe("tokens", () => {
  it("makes one ECR call per region, shared by every account host of that region", async () => {
    sm.on(DescribeSecretCommand).rejects(notFound());
    sm.on(CreateSecretCommand).resolves({ VersionId: "v1" });
    const cfg = config({ ECR_REGISTRIES: [HOST_USE1, HOST_EUW1, HOST_OTHER_ACCOUNT_USE1].join(","), SECRET_NAME: "ecr/{account}/{region}" });
    const report = await runRequest(request(), cfg, deps());
    expect(report.ok).toBe(true);
    expect(ecr.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(2);
    expect(report.ecrCalls).toBe(2);
    expect(
      sm
        .commandCalls(CreateSecretCommand)
        .map((c) => c.args[0].input.Name)
        .sort(),
    ).toEqual(["ecr/123456789012/eu-west-1", "ecr/123456789012/us-east-1", "ecr/210987654321/us-east-1"]);
    const other = sm.commandCalls(CreateSecretCommand).find((c) => c.args[0].input.Name === "ecr/210987654321/us-east-1")!;
    expect(JSON.parse(other.args[0].input.SecretString!).registry_url).toBe(HOST_OTHER_ACCOUNT_USE1);
  });

  it("defaults to the function's own registry, learnt from the token's proxyEndpoint", async () => {
    sm.on(DescribeSecretCommand).rejects(notFound());
    sm.on(CreateSecretCommand).resolves({ VersionId: "v1" });
    const report = await runRequest(request(), loadConfig({ AWS_REGION: "eu-west-1" }), deps());
    expect(report.registries).toEqual([
      expect.objectContaining({ registry: HOST_EUW1, secretName: "ecr/123456789012/eu-west-1/credentials", outcome: "created" }),
    ]);
    expect(report.ecrCalls).toBe(1);
  });

  it("refuses a token that is expired or expires within the margin, and writes nothing", async () => {
    const soon = new Date(NOW.getTime() + 30 * 60_000);
    ecr.on(GetAuthorizationTokenCommand).resolves({ authorizationData: [authorizationData("us-east-1", { expiresAt: soon })] });
    const report = await runRequest(request(), config(), deps());
    expect(report.ok).toBe(false);
    expect(report.registries[0]!.reason).toContain("less than the required 3600 s");
    const expired = await runRequest(request(), config(), deps(new Date(soon.getTime() + 1000)));
    expect(expired.registries[0]!.reason).toContain("already expired");
    expect(sm.commandCalls(DescribeSecretCommand)).toHaveLength(0);
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it("rejects a token that does not decode or has no ':'", async () => {
    for (const token of ["%%%not-base64", Buffer.from("no-colon-here").toString("base64")]) {
      ecr.on(GetAuthorizationTokenCommand).resolves({ authorizationData: [authorizationData("us-east-1", { token })] });
      const report = await runRequest(request(), config(), deps());
      expect(report.ok).toBe(false);
      expect(report.registries[0]!.reason).toMatch(/not valid base64|no ":"/);
    }
    expect(sm.commandCalls(DescribeSecretCommand)).toHaveLength(0);
  });

  it("reports ECR AccessDenied and throttling per region, writes nothing for them, and keeps other regions going", async () => {
    ecr.on(GetAuthorizationTokenCommand).callsFake(async (_input, getClient) => {
      const region = await getClient().config.region();
      if (region === "eu-west-1") {
        throw Object.assign(
          new Error("User: arn:aws:sts::123456789012:assumed-role/x is not authorized to perform: ecr:GetAuthorizationToken on resource: *"),
          { name: "AccessDeniedException" },
        );
      }
      return { authorizationData: [authorizationData(region)] };
    });
    sm.on(DescribeSecretCommand).rejects(notFound());
    sm.on(CreateSecretCommand).resolves({ VersionId: "v1" });
    const cfg = config({ ECR_REGISTRIES: `${HOST_USE1},${HOST_EUW1}`, SECRET_NAME: "ecr/{region}", COMBINED_SECRET_NAME: "ecr/all" });
    const report = await runRequest(request(), cfg, deps());
    expect(report.ok).toBe(false);
    expect(report.registries.find((r) => r.region === "eu-west-1")).toMatchObject({ outcome: "failed" });
    expect(report.registries.find((r) => r.region === "eu-west-1")!.reason).toContain("AccessDeniedException");
    expect(report.registries.find((r) => r.region === "us-east-1")).toMatchObject({ outcome: "created" });
    expect(report.combinedSecret).toMatchObject({ outcome: "skipped" });
    expect(sm.commandCalls(CreateSecretCommand).map((c) => c.args[0].input.Name)).toEqual(["ecr/us-east-1"]);

    ecr.on(GetAuthorizationTokenCommand).rejects(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" }));
    const throttled = await runRequest(request(), config(), deps());
    expect(throttled.ok).toBe(false);
    expect(throttled.errors.join()).toContain("ThrottlingException");
  });

  it("reports a Secrets Manager failure as a failed run", async () => {
    sm.on(DescribeSecretCommand).resolves({ Tags: OWNED_TAGS, VersionIdsToStages: { v0: ["AWSCURRENT"] } });
    sm.on(GetSecretValueCommand).resolves({ SecretString: storedValue(), VersionId: "v0", CreatedDate: new Date(0) });
    sm.on(PutSecretValueCommand).rejects(Object.assign(new Error("Access to KMS is not allowed"), { name: "AccessDeniedException" }));
    const report = await runRequest(request(), config(), deps());
    expect(report.ok).toBe(false);
    expect(report.errors[0]).toContain("AccessDeniedException: Access to KMS is not allowed");
  });

  it("rejects a manual registry that is not configured, before any call", async () => {
    await expect(runRequest(request({ registries: [HOST_EUW1] }), config(), deps())).rejects.toThrow(BadRequestError);
    // A malformed host is rejected while the request is parsed, before the run starts.
    expect(() => request({ registries: ["123.dkr.ecr.us-east-1.amazonaws.com"] })).toThrow(/invalid ECR registry host/);
    expect(ecr.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(0);
  });

  it("writes the combined secret only with every registry, never partially", async () => {
    sm.on(DescribeSecretCommand).rejects(notFound());
    sm.on(CreateSecretCommand).resolves({ VersionId: "v1" });
    const cfg = config({ ECR_REGISTRIES: `${HOST_USE1},${HOST_EUW1}`, SECRET_NAME: "ecr/{region}", COMBINED_SECRET_NAME: "ecr/all" });
    const report = await runRequest(request(), cfg, deps());
    expect(report.combinedSecret).toMatchObject({ secretName: "ecr/all", outcome: "created" });
    const combined = sm.commandCalls(CreateSecretCommand).find((c) => c.args[0].input.Name === "ecr/all")!;
    const value = JSON.parse(combined.args[0].input.SecretString!);
    expect(Object.keys(JSON.parse(value.dockerconfigjson).auths).sort()).toEqual([HOST_EUW1, HOST_USE1]);

    const subset = await runRequest(request({ registries: [HOST_USE1] }), cfg, deps());
    expect(subset.combinedSecret).toMatchObject({ outcome: "skipped" });
  });
});
