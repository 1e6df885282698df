/**
 * A pull secret the product produced authenticates a real registry client.
 *
 * moto issues the ECR token; the product writes it to Secrets Manager (moto); a Debian
 * docker-registry on 127.0.0.1 accepts exactly that token (htpasswd user AWS); skopeo then uses:
 *   1. the `dockerconfigjson` property the product wrote, and
 *   2. the dockerconfigjson ESO renders from `registry_url` / `auth_token` with the docs/facts.md §3
 *      template (rendered by Go text/template + sprig, ESO's engine).
 * The registry runs on 127.0.0.1:PORT, not the ECR host, so the entry the product keyed by the
 * ECR host is moved to the registry's key — its content (username, password, auth) is used as is.
 * A stale token (after the registry rotates) and a wrong one are refused.
 */
import { ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app";
import { runRequest } from "../../src/run/run";
import { parseManualRequest } from "../../src/request/triggers";
import { ensureEsoTemplateBinary, renderEsoTemplate, SEED_DOCKERCONFIGJSON_TEMPLATE } from "../support/eso-template";
import { motoEnv, startMoto, type MotoServer } from "../support/moto";
import { startRegistry, type Registry } from "../support/registry";

const ECR_HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
let moto: MotoServer;
let registry: Registry;
let stored: Record<string, string>;
const saved = { ...process.env };

/** The product's entry for the ECR host, moved under the local registry's key, content unchanged. */
function forLocalRegistry(dockerconfigjson: string): string {
  const config = JSON.parse(dockerconfigjson) as { auths: Record<string, unknown> };
  expect(Object.keys(config.auths)).toEqual([ECR_HOST]);
  return JSON.stringify({ auths: { [registry.host]: config.auths[ECR_HOST] } });
}

beforeAll(async () => {
  moto = await startMoto();
  Object.assign(process.env, motoEnv(moto.url));
  const data = (await new ECRClient({ region: "us-east-1" }).send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!;
  const tokenNow = () => new Date(data.expiresAt!.getTime() - 11 * 3600_000);
  const app = createApp({ ...motoEnv(moto.url), ECR_REGISTRIES: ECR_HOST, SECRET_NAME: "production/ecr/credentials" }, { tokenNow });
  const report = await runRequest(parseManualRequest({ action: "rotate" }), app.config, app.deps);
  expect(report.ok).toBe(true);
  const secret = await new SecretsManagerClient({ region: "us-east-1" }).send(new GetSecretValueCommand({ SecretId: "production/ecr/credentials" }));
  stored = JSON.parse(secret.SecretString!) as Record<string, string>;
  // The registry accepts exactly the emulator's ECR credential.
  const [user, ...rest] = Buffer.from(data.authorizationToken!, "base64").toString().split(":");
  registry = await startRegistry({ users: [{ username: user!, password: rest.join(":") }] });
  await ensureEsoTemplateBinary();
});
afterAll(async () => {
  await registry?.stop();
  await moto?.stop();
  process.env = saved;
});

describe("a produced pull secret authenticates skopeo against a real registry", () => {
  it("the ready `dockerconfigjson` property", async () => {
    const result = await registry.skopeoInspect(registry.writeAuthFile(forLocalRegistry(stored.dockerconfigjson!)));
    expect(result).toMatchObject({ ok: true });
    // skopeo reads only `auth`; prove the username/password fields are right too.
    const entry = JSON.parse(stored.dockerconfigjson!).auths[ECR_HOST] as { username: string; password: string };
    expect(await registry.probeBasic(entry.username, entry.password)).toBe(200);
  });

  it("the ExternalSecret template from docs/facts.md, rendered by ESO's engine from registry_url/auth_token", async () => {
    const rendered = await renderEsoTemplate(SEED_DOCKERCONFIGJSON_TEMPLATE, { registry: stored.registry_url!, token: stored.auth_token! });
    const result = await registry.skopeoInspect(registry.writeAuthFile(forLocalRegistry(rendered)));
    expect(result).toMatchObject({ ok: true });
  });

  it("a wrong token is refused, and the stored one goes stale when the registry's credential rotates", async () => {
    const wrong = stored.dockerconfigjson!.replaceAll(stored.auth_token!, "not-the-token");
    const wrongAuth = JSON.parse(wrong) as { auths: Record<string, { auth: string }> };
    wrongAuth.auths[ECR_HOST]!.auth = Buffer.from("AWS:not-the-token").toString("base64");
    const refused = await registry.skopeoInspect(registry.writeAuthFile(forLocalRegistry(JSON.stringify(wrongAuth))));
    expect(refused.ok).toBe(false);
    expect(refused.stderr).toMatch(/unauthorized|authentication required/i);

    await registry.setUsers([{ username: "AWS", password: "a-newer-token-issued-later" }]);
    const stale = await registry.skopeoInspect(registry.writeAuthFile(forLocalRegistry(stored.dockerconfigjson!)));
    expect(stale.ok).toBe(false);
    expect(stale.stderr).toMatch(/unauthorized|authentication required/i);
  });
});
