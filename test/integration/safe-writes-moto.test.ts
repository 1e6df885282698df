/**
 * Issue 9 items 4 and 5 against a real moto server: the debounce replaces an expired token even
 * inside its window, stored values for another registry or in SecretBinary are refused and left
 * as they were, and two runs racing on missing secrets (the CLI during an incident while the
 * schedule runs) both succeed and leave only complete values behind. Issue 19 §3: an expiry beyond
 * an ECR token's lifetime is never believed, and the combined secret follows its registry set.
 */
import { CreateSecretCommand, GetSecretValueCommand, ListSecretVersionIdsCommand } from "@aws-sdk/client-secrets-manager";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app";
import { runRequest } from "../../src/run/run";
import { parseManualRequest } from "../../src/request/triggers";
import { OWNED_TAGS } from "../support/aws-fakes";
import { motoEnv, useMotoForRotation } from "../support/moto";

const USE1 = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const OTHER = "210987654321.dkr.ecr.us-east-1.amazonaws.com";
const EUW1 = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";

const aws = useMotoForRotation();

/**
 * A rotation against moto. `caller` marks the run's ECR token: the real ECR hands every call its
 * own token, moto always the same one, so two racing runs would otherwise write identical
 * content (which CreateSecret accepts as an idempotent retry) and never collide.
 */
function run(env: Record<string, string>, fields: Record<string, unknown> = {}, caller?: string, clock: () => Date = aws.tokenNow) {
  const app = createApp({ ...motoEnv(aws.moto.url), ...env }, { tokenNow: clock });
  const real = app.deps.ecr;
  const ecr =
    caller === undefined
      ? real
      : {
          getAuthorizationToken: async (region: string) =>
            (await real.getAuthorizationToken(region)).map((d) => ({
              ...d,
              authorizationToken: Buffer.from(`${Buffer.from(d.authorizationToken!, "base64").toString()}-${caller}`).toString("base64"),
            })),
        };
  return runRequest(parseManualRequest({ action: "rotate", ...fields }), app.config, { ...app.deps, ecr });
}

async function current(name: string): Promise<{ text: string | undefined; binary: boolean }> {
  const out = await aws.sm.send(new GetSecretValueCommand({ SecretId: name }));
  return { text: out.SecretString, binary: out.SecretBinary !== undefined };
}

async function everyVersion(name: string): Promise<Array<Record<string, unknown>>> {
  const ids = (await aws.sm.send(new ListSecretVersionIdsCommand({ SecretId: name }))).Versions!.map((v) => v.VersionId!);
  return Promise.all(
    ids.map(
      async (id) => JSON.parse((await aws.sm.send(new GetSecretValueCommand({ SecretId: name, VersionId: id }))).SecretString!) as Record<string, unknown>,
    ),
  );
}

describe("item 4 on moto: never keep an expired token, refuse what is not this registry's value", () => {
  it("an expired token written a moment ago (inside WRITE_DEBOUNCE_SECONDS) is replaced, not kept", async () => {
    const expired = new Date(aws.tokenNow().getTime() - 60_000).toISOString();
    await aws.sm.send(
      new CreateSecretCommand({
        Name: "ecr/creds",
        SecretString: JSON.stringify({ registry_url: USE1, auth_token: "expired-password", expires_at: expired }),
        Tags: OWNED_TAGS,
      }),
    );
    const report = await run({ ECR_REGISTRIES: USE1, SECRET_NAME: "ecr/creds", WRITE_DEBOUNCE_SECONDS: "3600" });
    expect(report.ok).toBe(true);
    expect(report.registries[0]).toMatchObject({ outcome: "updated" });
    expect(report.registries[0]!.reason).toMatch(/stored token expired at/);
    expect(JSON.parse((await current("ecr/creds")).text!).auth_token).toBe(aws.motoPassword);
  });

  it("a stored value whose registry_url is another registry is refused by name and left as it was", async () => {
    const value = JSON.stringify({ registry_url: OTHER, auth_token: "theirs", expires_at: new Date(aws.tokenNow().getTime() + 3600_000).toISOString() });
    await aws.sm.send(new CreateSecretCommand({ Name: "ecr/creds", SecretString: value, Tags: OWNED_TAGS }));
    const report = await run({ ECR_REGISTRIES: USE1, SECRET_NAME: "ecr/creds" }, { force: true });
    expect(report.ok).toBe(false);
    expect(report.registries[0]!.reason).toContain(`its registry_url is "${OTHER}", not ${USE1}`);
    expect((await current("ecr/creds")).text).toBe(value);
    expect(await everyVersion("ecr/creds")).toHaveLength(1);
  });

  it("an owned secret holding SecretBinary is refused and left as it was", async () => {
    await aws.sm.send(new CreateSecretCommand({ Name: "ecr/creds", SecretBinary: new Uint8Array([1, 2, 3, 4]), Tags: OWNED_TAGS }));
    const report = await run({ ECR_REGISTRIES: USE1, SECRET_NAME: "ecr/creds" }, { force: true });
    expect(report.ok).toBe(false);
    expect(report.registries[0]!.reason).toContain("its current version holds SecretBinary");
    expect(await current("ecr/creds")).toEqual({ text: undefined, binary: true });
  });
});

describe("item 4 on moto: a token near expiry that cannot be replaced fails the run loudly", () => {
  it("ECR's token is itself too short-lived and the stored one expires in 10 minutes: the error says so, nothing written", async () => {
    const expiresAt = new Date(aws.tokenNow().getTime() + 12 * 3600_000 - 60_000); // moto's fixed expiry
    const late = () => new Date(expiresAt.getTime() - 30 * 60_000); // 30 min before it: ECR's token is refused (< 60 min)
    const storedExpiry = new Date(expiresAt.getTime() - 20 * 60_000); // the stored token has 10 min left
    const value = JSON.stringify({ registry_url: USE1, auth_token: "stored-password", expires_at: storedExpiry.toISOString() });
    await aws.sm.send(new CreateSecretCommand({ Name: "ecr/creds", SecretString: value, Tags: OWNED_TAGS }));
    const report = await run({ ECR_REGISTRIES: USE1, SECRET_NAME: "ecr/creds" }, {}, undefined, late);
    expect(report.ok).toBe(false);
    expect(report.tokenSecondsRemaining).toBe(600);
    expect(report.registries[0]).toMatchObject({ outcome: "failed", secondsRemaining: 600, expiresAt: storedExpiry.toISOString() });
    expect(report.errors).toContain(
      `${USE1}: the token stored in ecr/creds expires at ${storedExpiry.toISOString()}, in 600 s (less than TOKEN_MIN_VALIDITY_MINUTES=60) and could not be replaced: pulls with it fail soon`,
    );
    expect((await current("ecr/creds")).text).toBe(value);
  });
});

describe("issue 19 §3 on moto: no expiry beyond an ECR token's lifetime, no registry hidden by the debounce", () => {
  it("a stored token claiming validity until 9999, written a moment ago, is replaced and the validity reported is at most 12 h", async () => {
    const value = JSON.stringify({ registry_url: USE1, auth_token: "tampered-password", expires_at: "9999-12-31T23:59:59.000Z" });
    await aws.sm.send(new CreateSecretCommand({ Name: "ecr/creds", SecretString: value, Tags: OWNED_TAGS }));
    const report = await run({ ECR_REGISTRIES: USE1, SECRET_NAME: "ecr/creds", WRITE_DEBOUNCE_SECONDS: "3600" });
    expect(report.ok).toBe(true);
    expect(report.registries[0]).toMatchObject({ outcome: "updated" });
    expect(report.registries[0]!.reason).toContain("no valid expires_at (9999-12-31T23:59:59.000Z lies further ahead than an ECR token lives");
    expect(report.tokenSecondsRemaining).toBeLessThanOrEqual(12 * 3600);
    expect(JSON.parse((await current("ecr/creds")).text!).auth_token).toBe(aws.motoPassword);
  });

  it("ECR's expiresAt two days ahead of this clock is refused (too-long) and nothing is written", async () => {
    const behind = () => new Date(aws.tokenNow().getTime() - 2 * 86_400_000);
    const report = await run({ ECR_REGISTRIES: USE1, SECRET_NAME: "ecr/creds" }, {}, undefined, behind);
    expect(report.ok).toBe(false);
    expect(report.registries[0]).toMatchObject({ outcome: "failed" });
    expect(report.registries[0]!.reason).toContain("further ahead than an ECR token lives (12 h + 15 min clock skew");
    await expect(aws.sm.send(new GetSecretValueCommand({ SecretId: "ecr/creds" }))).rejects.toThrow(/can't find|not found|ResourceNotFound/i);
  });

  it("a registry added a moment after the combined secret was written is in it at once", async () => {
    const young = new Date(aws.tokenNow().getTime() + 11 * 3600_000).toISOString();
    const combined = JSON.stringify({ registries: [USE1], expires_at: young, dockerconfigjson: JSON.stringify({ auths: {} }) });
    await aws.sm.send(new CreateSecretCommand({ Name: "ecr/all", SecretString: combined, Tags: OWNED_TAGS }));
    const env = { ECR_REGISTRIES: `${USE1},${EUW1}`, SECRET_NAME: "ecr/{region}/creds", COMBINED_SECRET_NAME: "ecr/all", WRITE_DEBOUNCE_SECONDS: "3600" };
    const report = await run(env);
    expect(report.ok).toBe(true);
    expect(report.combinedSecret).toMatchObject({ outcome: "updated" });
    expect(report.combinedSecret!.reason).toContain(`its registries changed (${EUW1} added)`);
    const stored = JSON.parse((await current("ecr/all")).text!) as { registries: string[] };
    expect(stored.registries).toEqual([USE1, EUW1].sort());
  });
});

describe("item 5 on moto: a bad request writes nothing", () => {
  it('heal with namespaces ["Bad_NS"] is rejected and Secrets Manager has no secret', async () => {
    await expect(async () => run({ ECR_REGISTRIES: USE1, SECRET_NAME: "ecr/creds" }, { action: "heal", namespaces: ["Bad_NS"] })).rejects.toThrow(
      /"Bad_NS" is not a valid namespace name/,
    );
    await expect(aws.sm.send(new GetSecretValueCommand({ SecretId: "ecr/creds" }))).rejects.toThrow(/can't find|not found|ResourceNotFound/i);
  });

  it('registries [H, "https://H/"] writes one secret version, once', async () => {
    const report = await run({ ECR_REGISTRIES: USE1, SECRET_NAME: "ecr/creds" }, { registries: [USE1, `https://${USE1}/`] });
    expect(report.registries.map((r) => [r.registry, r.outcome])).toEqual([[USE1, "created"]]);
    expect(await everyVersion("ecr/creds")).toHaveLength(1);
  });
});

describe("item 5 on moto: two concurrent runs", () => {
  const env = { ECR_REGISTRIES: [USE1, OTHER, EUW1].join(","), SECRET_NAME: "ecr/{account}/{region}/creds", COMBINED_SECRET_NAME: "ecr/all" };
  const names = ["ecr/123456789012/us-east-1/creds", "ecr/210987654321/us-east-1/creds", "ecr/123456789012/eu-west-1/creds"];

  it("both succeed (a CreateSecret that meets ResourceExistsException re-reads) and every version of every secret is complete", async () => {
    const passwords = [`${aws.motoPassword}-cli`, `${aws.motoPassword}-schedule`];
    for (let round = 0; round < 3; round++) {
      await aws.moto.reset();
      const [a, b] = await Promise.all([run(env, {}, "cli"), run(env, {}, "schedule")]);
      for (const report of [a, b]) {
        expect(report.errors).toEqual([]);
        expect(report.ok).toBe(true);
      }
      for (const name of names) {
        for (const version of await everyVersion(name)) {
          expect(Object.keys(version).sort()).toEqual(["auth_token", "dockerconfigjson", "expires_at", "proxy_endpoint", "registry_url", "username"]);
          expect(passwords).toContain(version.auth_token);
          expect(Object.values(JSON.parse(version.dockerconfigjson as string).auths as Record<string, { password: string }>)[0]!.password).toBe(
            version.auth_token,
          );
        }
      }
      for (const version of await everyVersion("ecr/all")) {
        expect(version.registries).toEqual([USE1, OTHER, EUW1].sort());
        const auths = JSON.parse(version.dockerconfigjson as string).auths as Record<string, { password: string }>;
        expect(Object.keys(auths).sort()).toEqual([USE1, OTHER, EUW1].sort());
        // One run's tokens, never a mix.
        expect(new Set(Object.values(auths).map((e) => e.password)).size).toBe(1);
      }
      // Each secret was created by exactly one of the two runs; the other re-read it and kept it.
      const outcomes = [...a.registries, ...b.registries].map((r) => r.outcome);
      expect(outcomes.filter((o) => o === "created")).toHaveLength(3);
      expect(outcomes.filter((o) => o === "debounced")).toHaveLength(3);
      expect([a.combinedSecret!.outcome, b.combinedSecret!.outcome].sort()).toEqual(["created", "debounced"]);
    }
  });
});
