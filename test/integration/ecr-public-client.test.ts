/**
 * The credential the product writes for `public.ecr.aws` authenticates a real registry client
 * (issue 12 item 3). moto has no ECR Public, so its GetAuthorizationToken is mocked at the SDK
 * (aws-sdk-client-mock) with a token whose password the Debian docker-registry on 127.0.0.1
 * accepts (htpasswd user AWS), standing in for public.ecr.aws; the product writes it to Secrets
 * Manager (moto), and skopeo uses the written `dockerconfigjson` entry (moved under the stand-in
 * registry's key, content unchanged). When the refresh then fails, the secret is rewritten
 * without any public.ecr.aws entry, also as the README's ExternalSecret template renders it:
 * nothing is left to expire.
 */
import { ECRPUBLICClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr-public";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app";
import { runRequest } from "../../src/run/run";
import { parseManualRequest } from "../../src/request/triggers";
import { ensureEsoTemplateBinary, renderEsoTemplate, SEED_DOCKERCONFIGJSON_TEMPLATE } from "../support/eso-template";
import { motoEnv, startMoto, type MotoServer } from "../support/moto";
import { startRegistry, type Registry } from "../support/registry";

const PUBLIC_PASSWORD = "eyJwYXlsb2FkIjoiZWNyLXB1YmxpYy10ZXN0In0-public-9d2c";
const SECRET = "ecr/public/us-east-1/credentials";
const ecrPublic = mockClient(ECRPUBLICClient);
let moto: MotoServer;
let registry: Registry;
const saved = { ...process.env };
const now = new Date();

async function stored(): Promise<Record<string, string>> {
  // The secret lives in the function's region (eu-west-1), not ECR Public's (us-east-1).
  const out = await new SecretsManagerClient({ region: "eu-west-1" }).send(new GetSecretValueCommand({ SecretId: SECRET }));
  return JSON.parse(out.SecretString!) as Record<string, string>;
}

function app() {
  return createApp({ ...motoEnv(moto.url), AWS_REGION: "eu-west-1", ECR_REGISTRIES: "public.ecr.aws" });
}

beforeAll(async () => {
  [moto, registry] = await Promise.all([startMoto(), startRegistry({ users: [{ username: "AWS", password: PUBLIC_PASSWORD }] })]);
  Object.assign(process.env, motoEnv(moto.url));
});
afterAll(async () => {
  ecrPublic.restore();
  await Promise.all([registry?.stop(), moto?.stop()]);
  process.env = saved;
});

describe("public.ecr.aws credential against a real registry client", () => {
  it("the written entry authenticates skopeo (stand-in host), and its fields are right", async () => {
    ecrPublic.on(GetAuthorizationTokenCommand).resolves({
      authorizationData: { authorizationToken: Buffer.from(`AWS:${PUBLIC_PASSWORD}`).toString("base64"), expiresAt: new Date(now.getTime() + 12 * 3600_000) },
    });
    const a = app();
    const report = await runRequest(parseManualRequest({ action: "rotate" }), a.config, a.deps);
    expect(report.ok).toBe(true);
    expect(report.registries[0]).toMatchObject({ registry: "public.ecr.aws", secretName: SECRET, outcome: "created" });
    const value = await stored();
    const config = JSON.parse(value.dockerconfigjson!) as { auths: Record<string, unknown> };
    expect(Object.keys(config.auths)).toEqual(["public.ecr.aws"]);
    const authFile = registry.writeAuthFile(JSON.stringify({ auths: { [registry.host]: config.auths["public.ecr.aws"] } }));
    const result = await registry.skopeoInspect(authFile);
    expect(result.stderr).toBe("");
    expect(result.ok).toBe(true);
    expect(await registry.probeBasic(value.username!, value.auth_token!)).toBe(200);
    // a wrong password is refused by the same registry (the check can fail)
    expect(await registry.probeBasic("AWS", `${PUBLIC_PASSWORD}x`)).toBe(401);
  });

  it("a failed refresh rewrites the secret with no public.ecr.aws entry at all", async () => {
    ecrPublic.reset();
    ecrPublic.on(GetAuthorizationTokenCommand).rejects(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" }));
    const a = app();
    const report = await runRequest(parseManualRequest({ action: "rotate" }), a.config, a.deps);
    expect(report.ok).toBe(false);
    expect(report.registries[0]!.reason).toContain("the public.ecr.aws entry was removed from the secret");
    const value = await stored();
    expect(JSON.parse(value.dockerconfigjson!)).toEqual({ auths: {} });
    expect(value.auth_token).toBe("");
    expect(JSON.stringify(value)).not.toContain(PUBLIC_PASSWORD);
    // The README's ExternalSecret template (rendered by ESO's engine) yields no public.ecr.aws entry either.
    await ensureEsoTemplateBinary();
    const rendered = JSON.parse(await renderEsoTemplate(SEED_DOCKERCONFIGJSON_TEMPLATE, { registry: value.registry_url!, token: value.auth_token! })) as {
      auths: object;
    };
    expect(Object.keys(rendered.auths)).toEqual([""]);
  });
});
