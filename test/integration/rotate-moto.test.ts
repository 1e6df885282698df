/**
 * The rotation against a real moto server: real HTTP, real SDK serialisation. moto's ECR token
 * expires on a fixed date in 2015, so the token clock is injected (the checks stay strict);
 * debouncing uses the real clock, like moto's own version dates.
 */
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
} from "@aws-sdk/client-secrets-manager";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app";
import { runRequest } from "../../src/run/run";
import { clientRequestToken } from "../../src/rotation/secret-writer";
import { parseManualRequest } from "../../src/request/triggers";
import { motoEnv, useMotoForRotation } from "../support/moto";

const USE1 = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const EUW1 = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const OTHER = "210987654321.dkr.ecr.us-east-1.amazonaws.com";

const aws = useMotoForRotation();

function rotate(env: Record<string, string>, fields: Record<string, unknown> = {}, clockAheadMs = 0) {
  const app = createApp({ ...motoEnv(aws.moto.url), ...env }, { tokenNow: aws.tokenNow });
  const deps = clockAheadMs === 0 ? app.deps : { ...app.deps, now: () => new Date(Date.now() + clockAheadMs) };
  return runRequest(parseManualRequest({ action: "rotate", ...fields }), app.config, deps);
}

async function versions(name: string): Promise<number> {
  const out = await aws.sm.send(new ListSecretVersionIdsCommand({ SecretId: name }));
  return out.Versions?.length ?? 0;
}

async function current(name: string): Promise<Record<string, string>> {
  const out = await aws.sm.send(new GetSecretValueCommand({ SecretId: name }));
  return JSON.parse(out.SecretString!) as Record<string, string>;
}

describe("rotation against moto", () => {
  it("creates the secret in the ESO contract, tagged as owned, with the configured tags", async () => {
    const report = await rotate({ ECR_REGISTRIES: USE1, SECRET_NAME: "production/ecr/credentials", SECRET_TAGS: "team=platform" });
    expect(report).toMatchObject({ ok: true, ecrCalls: 1, registries: [{ outcome: "created", secretName: "production/ecr/credentials" }] });
    const value = await current("production/ecr/credentials");
    expect(value).toMatchObject({ registry_url: USE1, auth_token: aws.motoPassword, username: "AWS", proxy_endpoint: `https://${USE1}` });
    expect(JSON.parse(value.dockerconfigjson!).auths[USE1].password).toBe(aws.motoPassword);
    const described = await aws.sm.send(new DescribeSecretCommand({ SecretId: "production/ecr/credentials" }));
    expect(described.Tags).toEqual(
      expect.arrayContaining([
        { Key: "team", Value: "platform" },
        { Key: "ecr-token-rotator:managed", Value: "true" },
      ]),
    );
  });

  it("updates an owned secret holding an older token (outside the debounce window)", async () => {
    await aws.sm.send(
      new CreateSecretCommand({
        Name: "ecr/creds",
        SecretString: JSON.stringify({ registry_url: USE1, auth_token: "old" }),
        Tags: [{ Key: "ecr-token-rotator:managed", Value: "true" }],
      }),
    );
    // An hour later: the stored version is older than the debounce window.
    const report = await rotate({ ECR_REGISTRIES: USE1, SECRET_NAME: "ecr/creds" }, {}, 3_601_000);
    expect(report.registries[0]).toMatchObject({ outcome: "updated" });
    expect((await current("ecr/creds")).auth_token).toBe(aws.motoPassword);
    expect(await versions("ecr/creds")).toBe(2);
  });

  it("debounces a rewrite within the window (alarm storm), and force overrides", async () => {
    await aws.sm.send(
      new CreateSecretCommand({
        Name: "ecr/creds",
        SecretString: JSON.stringify({ registry_url: USE1, auth_token: "just-written", expires_at: "2015-01-01T00:00:00.000Z" }),
        Tags: [{ Key: "ecr-token-rotator:managed", Value: "true" }],
      }),
    );
    for (let i = 0; i < 3; i += 1) {
      const report = await rotate({ ECR_REGISTRIES: USE1, SECRET_NAME: "ecr/creds" });
      expect(report.registries[0]).toMatchObject({ outcome: "debounced" });
    }
    expect(await versions("ecr/creds")).toBe(1);
    expect((await current("ecr/creds")).auth_token).toBe("just-written");
    const forced = await rotate({ ECR_REGISTRIES: USE1, SECRET_NAME: "ecr/creds" }, { force: true });
    expect(forced.registries[0]).toMatchObject({ outcome: "updated" });
    expect(await versions("ecr/creds")).toBe(2);
  });

  it("is idempotent: the same content is never a new version, and the ClientRequestToken is honoured", async () => {
    const env = { ECR_REGISTRIES: USE1, SECRET_NAME: "ecr/creds" };
    await rotate(env);
    const again = await rotate(env, { force: true });
    expect(again.registries[0]).toMatchObject({ outcome: "unchanged" });
    expect(await versions("ecr/creds")).toBe(1);
    // Replaying the same PutSecretValue (a Lambda retry after a lost answer) creates nothing either.
    const secretString = (await aws.sm.send(new GetSecretValueCommand({ SecretId: "ecr/creds" }))).SecretString!;
    const token = clientRequestToken("ecr/creds", secretString);
    const replay = await aws.sm.send(new PutSecretValueCommand({ SecretId: "ecr/creds", SecretString: secretString, ClientRequestToken: token }));
    expect(await versions("ecr/creds")).toBe(1);
    expect(replay.VersionId).toBe(token);
  });

  it("multi-region: one ECR call per region, one secret per registry, other accounts' hosts share the token", async () => {
    const report = await rotate({ ECR_REGISTRIES: [USE1, EUW1, OTHER].join(","), SECRET_NAME: "ecr/{account}/{region}", COMBINED_SECRET_NAME: "ecr/all" });
    expect(report.ok).toBe(true);
    expect(report.ecrCalls).toBe(2);
    expect((await current("ecr/210987654321/us-east-1")).registry_url).toBe(OTHER);
    expect((await current("ecr/123456789012/eu-west-1")).registry_url).toBe(EUW1);
    expect(Object.keys(JSON.parse((await current("ecr/all")).dockerconfigjson!).auths).sort()).toEqual([EUW1, OTHER, USE1].sort());
  });

  it("dry run writes nothing", async () => {
    const report = await rotate({ ECR_REGISTRIES: `${USE1},${EUW1}`, SECRET_NAME: "ecr/{region}" }, { dryRun: true });
    expect(report.registries.map((r) => r.outcome)).toEqual(["would-create", "would-create"]);
    await expect(aws.sm.send(new DescribeSecretCommand({ SecretId: "ecr/us-east-1" }))).rejects.toThrow(/can't find|not found/i);
  });

  it("refuses a foreign secret and a malformed one, leaving both untouched", async () => {
    await aws.sm.send(new CreateSecretCommand({ Name: "foreign", SecretString: JSON.stringify({ registry_url: USE1, auth_token: "theirs" }) }));
    await aws.sm.send(new CreateSecretCommand({ Name: "malformed", SecretString: "plain text", Tags: [{ Key: "ecr-token-rotator:managed", Value: "true" }] }));
    const foreign = await rotate({ ECR_REGISTRIES: USE1, SECRET_NAME: "foreign" });
    const malformed = await rotate({ ECR_REGISTRIES: USE1, SECRET_NAME: "malformed" });
    expect(foreign.ok).toBe(false);
    expect(malformed.ok).toBe(false);
    expect(foreign.errors[0]).toContain("ecr-token-rotator:managed");
    expect(malformed.errors[0]).toContain("not JSON");
    expect((await current("foreign")).auth_token).toBe("theirs");
    expect(await versions("foreign")).toBe(1);
    expect(await versions("malformed")).toBe(1);
  });

  it("refuses moto's token when judged by the real clock (it expired in 2015)", async () => {
    const app = createApp({ ...motoEnv(aws.moto.url), ECR_REGISTRIES: USE1, SECRET_NAME: "ecr/creds" });
    const report = await runRequest(parseManualRequest({ action: "rotate" }), app.config, app.deps);
    expect(report.ok).toBe(false);
    expect(report.errors[0]).toContain("already expired");
    await expect(aws.sm.send(new DescribeSecretCommand({ SecretId: "ecr/creds" }))).rejects.toThrow();
  });
});
