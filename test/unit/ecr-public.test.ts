/**
 * ECR Public (issue 12 item 3), with the SDK mocked (moto has no ECR Public): `public.ecr.aws`
 * gets its own token from ECR Public's GetAuthorizationToken and is written like any registry;
 * when that refresh fails, the public entry is removed from what the product writes (its own
 * secret, the combined secret, the pull Secrets) instead of being left to expire, and the Report
 * says so. The token never appears in the Report.
 */
import { ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { ECRPUBLICClient, GetAuthorizationTokenCommand as GetPublicTokenCommand } from "@aws-sdk/client-ecr-public";
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config";
import { sdkEcrApi, sdkSecretsManagerApi } from "../../src/rotation/aws";
import { runRequest, type KubernetesStep } from "../../src/run/run";
import { parseManualRequest } from "../../src/request/triggers";
import { decideSecret, summarizeSecret } from "../../src/kube/decide";
import { withdrawnPublicValue } from "../../src/rotation/secret-payload";
import { authorizationData, EXPIRES, HOST_USE1, NOW, PASSWORD, RAW_TOKEN } from "../support/fixtures";

const ecr = mockClient(ECRClient);
const ecrPublic = mockClient(ECRPUBLICClient);
const sm = mockClient(SecretsManagerClient);

const PUBLIC_PASSWORD = "ECR-Public-p4ssw0rd-9c1e-distinct-from-private";
const PUBLIC_TOKEN = Buffer.from(`AWS:${PUBLIC_PASSWORD}`).toString("base64");
const OWNED = [{ Key: "ecr-token-rotator:managed", Value: "true" }];
const notFound = () => new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: {} });

function config(extra: Record<string, string> = {}) {
  return loadConfig({ AWS_REGION: "us-east-1", ECR_REGISTRIES: `public.ecr.aws,${HOST_USE1}`, ...extra });
}
const deps = () => ({ ecr: sdkEcrApi(), secrets: sdkSecretsManagerApi("us-east-1"), now: () => NOW });
const rotate = (fields: Record<string, unknown> = {}) => parseManualRequest({ action: "rotate", ...fields });

beforeEach(() => {
  ecr.reset();
  ecrPublic.reset();
  sm.reset();
  ecr.on(GetAuthorizationTokenCommand).resolves({ authorizationData: [authorizationData("us-east-1")] });
  sm.on(DescribeSecretCommand).rejects(notFound());
  sm.on(CreateSecretCommand).resolves({ VersionId: "v1" });
});
afterEach(() => {
  ecr.reset();
  ecrPublic.reset();
  sm.reset();
});

function created(name: string): Record<string, string> {
  const call = sm.commandCalls(CreateSecretCommand).find((c) => c.args[0].input.Name === name);
  if (!call) throw new Error(`no CreateSecret for ${name}`);
  return JSON.parse(call.args[0].input.SecretString!) as Record<string, string>;
}

describe("public.ecr.aws gets its own token", () => {
  it("from ECR Public in us-east-1, written like any registry", async () => {
    const regions: string[] = [];
    ecrPublic.on(GetPublicTokenCommand).callsFake(async (_input, getClient) => {
      regions.push(await getClient().config.region());
      return { authorizationData: { authorizationToken: PUBLIC_TOKEN, expiresAt: EXPIRES } };
    });
    const report = await runRequest(rotate(), config({ AWS_REGION: "eu-west-1", ECR_REGISTRIES: "public.ecr.aws" }), deps());
    expect(report.ok).toBe(true);
    expect(regions).toEqual(["us-east-1"]);
    expect(ecr.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(0); // no private registry configured
    expect(report.ecrCalls).toBe(1);
    expect(report.registries).toEqual([
      expect.objectContaining({
        registry: "public.ecr.aws",
        accountId: "public",
        region: "us-east-1",
        secretName: "ecr/public/us-east-1/credentials",
        outcome: "created",
      }),
    ]);
    expect(created("ecr/public/us-east-1/credentials")).toEqual({
      registry_url: "public.ecr.aws",
      auth_token: PUBLIC_PASSWORD,
      username: "AWS",
      proxy_endpoint: "https://public.ecr.aws",
      expires_at: EXPIRES.toISOString(),
      dockerconfigjson: JSON.stringify({ auths: { "public.ecr.aws": { username: "AWS", password: PUBLIC_PASSWORD, auth: PUBLIC_TOKEN } } }),
    });
    expect(JSON.stringify(report)).not.toContain(PUBLIC_PASSWORD);
  });

  it("next to a private registry: two tokens, and the combined secret holds both", async () => {
    ecrPublic.on(GetPublicTokenCommand).resolves({ authorizationData: { authorizationToken: PUBLIC_TOKEN, expiresAt: EXPIRES } });
    const report = await runRequest(rotate(), config({ COMBINED_SECRET_NAME: "ecr/all" }), deps());
    expect(report.ok).toBe(true);
    expect(report.ecrCalls).toBe(2);
    const combined = JSON.parse(created("ecr/all").dockerconfigjson!) as { auths: Record<string, { password: string }> };
    expect(Object.keys(combined.auths)).toEqual(["123456789012.dkr.ecr.us-east-1.amazonaws.com", "public.ecr.aws"]);
    expect(combined.auths["public.ecr.aws"]!.password).toBe(PUBLIC_PASSWORD);
    expect(combined.auths[HOST_USE1]!.password).toBe(PASSWORD);
  });

  it("a token with too little validity is refused like a private one", async () => {
    ecrPublic.on(GetPublicTokenCommand).resolves({ authorizationData: { authorizationToken: PUBLIC_TOKEN, expiresAt: new Date(NOW.getTime() + 600_000) } });
    const report = await runRequest(rotate(), config({ ECR_REGISTRIES: "public.ecr.aws" }), deps());
    expect(report.ok).toBe(false);
    expect(report.errors[0]).toMatch(
      /^public\.ecr\.aws: TokenFetchError: ECR token for public\.ecr\.aws \(ECR Public, us-east-1\): token expires at .*, in 600 s: less than the required 3600 s$/,
    );
  });
});

describe("a failed public refresh removes the public entry instead of leaving it to expire", () => {
  const stored = (password: string, createdDate: Date) => ({
    SecretString: JSON.stringify({
      registry_url: "public.ecr.aws",
      auth_token: password,
      username: "AWS",
      proxy_endpoint: "https://public.ecr.aws",
      expires_at: EXPIRES.toISOString(),
      dockerconfigjson: JSON.stringify({ auths: { "public.ecr.aws": { username: "AWS", password, auth: Buffer.from(`AWS:${password}`).toString("base64") } } }),
    }),
    VersionId: "v0",
    CreatedDate: createdDate,
  });

  beforeEach(() => {
    ecrPublic
      .on(GetPublicTokenCommand)
      .rejects(Object.assign(new Error("User is not authorized to perform: sts:GetServiceBearerToken"), { name: "AccessDeniedException" }));
    sm.on(DescribeSecretCommand, { SecretId: "ecr/public/us-east-1/credentials" }).resolves({
      ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr/public/us-east-1/credentials-AbCdEf",
      Tags: OWNED,
      VersionIdsToStages: { v0: ["AWSCURRENT"] },
    });
    // written 1 minute ago: debounce must not keep the entry
    sm.on(GetSecretValueCommand, { SecretId: "ecr/public/us-east-1/credentials" }).resolves(stored("older-public-password", new Date(NOW.getTime() - 60_000)));
    sm.on(PutSecretValueCommand).resolves({ VersionId: "v-withdrawn" });
  });

  it("its secret is overwritten without the credential; the Report says so and the run fails", async () => {
    const report = await runRequest(rotate(), config({ COMBINED_SECRET_NAME: "ecr/all" }), deps());
    expect(report.ok).toBe(false);
    expect(report.errors).toEqual([
      "public.ecr.aws: TokenFetchError: ECR token for public.ecr.aws (ECR Public, us-east-1): AccessDeniedException: User is not authorized to perform: sts:GetServiceBearerToken",
    ]);
    const row = report.registries.find((r) => r.registry === "public.ecr.aws")!;
    expect(row.outcome).toBe("failed");
    expect(row.reason).toMatch(/; the public\.ecr\.aws entry was removed from the secret \(pulls from it go anonymous rather than fail on an expired token\)$/);
    const put = sm.commandCalls(PutSecretValueCommand).find((c) => c.args[0].input.SecretId === "ecr/public/us-east-1/credentials")!;
    const value = JSON.parse(put.args[0].input.SecretString!) as Record<string, string>;
    expect(value).toMatchObject({ registry_url: "", auth_token: "", username: "", proxy_endpoint: "", expires_at: "", dockerconfigjson: '{"auths":{}}' });
    expect(value.withdrawn).toMatch(/^public\.ecr\.aws: .*AccessDeniedException/);
    expect(put.args[0].input.SecretString).not.toContain("older-public-password");
    // the private registry is still refreshed, and the combined secret is written without the public entry
    expect(report.registries.find((r) => r.registry === HOST_USE1)!.outcome).toBe("created");
    const combined = JSON.parse(created("ecr/all").dockerconfigjson!) as { auths: Record<string, unknown> };
    expect(Object.keys(combined.auths)).toEqual([HOST_USE1]);
    expect(report.combinedSecret!.reason).toContain("public.ecr.aws left out: its token could not be refreshed");
  });

  it("a dry run only says it would remove it", async () => {
    const report = await runRequest(rotate({ dryRun: true }), config(), deps());
    expect(report.registries.find((r) => r.registry === "public.ecr.aws")!.reason).toMatch(/would remove the public\.ecr\.aws entry from the secret/);
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it("the pull Secrets lose the public entry too (the Kubernetes step is told to withdraw it)", async () => {
    const seen: Array<{ hosts: string[]; withdrawn: string[] | undefined }> = [];
    const step: KubernetesStep = async ({ credentials, withdrawn }) => {
      seen.push({ hosts: credentials.map((c) => c.registry.host), withdrawn });
      return { mode: "applied", clusters: [] };
    };
    await runRequest(parseManualRequest({ action: "heal" }), config({ EKS_CLUSTERS: "prod" }), {
      ...deps(),
      kubernetes: async () => step,
      fallbackOnHeal: true,
    });
    expect(seen).toEqual([{ hosts: [HOST_USE1], withdrawn: ["public.ecr.aws"] }]);
  });

  it("a pull Secret holding a public entry is updated without it; other registries' entries stay", () => {
    const logins = [{ host: HOST_USE1, username: "AWS", password: PASSWORD }];
    const config = {
      auths: {
        [HOST_USE1]: { username: "AWS", password: PASSWORD, auth: RAW_TOKEN },
        "public.ecr.aws": { username: "AWS", password: "stale", auth: Buffer.from("AWS:stale").toString("base64") },
        "ghcr.io": { auth: Buffer.from("u:p").toString("base64") },
      },
    };
    const secret = {
      metadata: { name: "ecr-pull-secret", namespace: "app", resourceVersion: "7", labels: { "app.kubernetes.io/managed-by": "ecr-token-rotator" } },
      type: "kubernetes.io/dockerconfigjson",
      data: { ".dockerconfigjson": Buffer.from(JSON.stringify(config)).toString("base64") },
    };
    // without a withdrawal, our entry is current: nothing to do
    expect(decideSecret({ namespace: "app", name: "ecr-pull-secret", existing: secret, logins, adoptUnmanaged: false }).action).toBe("unchanged");
    expect(summarizeSecret(secret, logins, ["public.ecr.aws"]).oursCurrent).toBe(false);
    const decision = decideSecret({ namespace: "app", name: "ecr-pull-secret", existing: secret, logins, withdraw: ["public.ecr.aws"], adoptUnmanaged: false });
    expect(decision.action).toBe("update");
    const data = (decision as unknown as { patch: { data: Record<string, string> } }).patch.data[".dockerconfigjson"]!;
    expect(Object.keys((JSON.parse(Buffer.from(data, "base64").toString()) as { auths: object }).auths)).toEqual([HOST_USE1, "ghcr.io"]);
  });

  it("when the refresh works again, the withdrawn value is replaced at once (no debounce on an empty entry)", async () => {
    ecrPublic.reset();
    ecrPublic.on(GetPublicTokenCommand).resolves({ authorizationData: { authorizationToken: PUBLIC_TOKEN, expiresAt: EXPIRES } });
    sm.on(GetSecretValueCommand, { SecretId: "ecr/public/us-east-1/credentials" }).resolves({
      SecretString: JSON.stringify(withdrawnPublicValue("AccessDeniedException: …")),
      VersionId: "v-withdrawn",
      CreatedDate: new Date(NOW.getTime() - 60_000),
    });
    const report = await runRequest(rotate(), config({ ECR_REGISTRIES: "public.ecr.aws" }), deps());
    expect(report.ok).toBe(true);
    expect(report.registries[0]).toMatchObject({ outcome: "updated", secondsRemaining: 12 * 3600 });
  });
});
