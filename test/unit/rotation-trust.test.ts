/**
 * Issue 19 §3 at the core, with the in-memory Secrets Manager: the combined secret is written
 * whenever its registry set changes (the debounce never hides a registry), and an expiry no ECR
 * token can have — a stored `expires_at` in year 9999, an ECR `expiresAt` days away — is never
 * believed: the stored value is replaced, ECR's answer refused with nothing written, and the
 * reported validity never exceeds the token's 12 h lifetime.
 */
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app";
import type { EcrApi } from "../../src/rotation/ecr";
import { validateAuthorizationData, validatePublicAuthorizationData } from "../../src/rotation/ecr";
import { runRequest } from "../../src/run/run";
import { parseManualRequest } from "../../src/request/triggers";
import { storedExpiry } from "../../src/formats/secret-value";
import { TokenFetchError } from "../../src/shared/errors";
import { ECR_TOKEN_LIFETIME_SECONDS, EXPIRY_CLOCK_SKEW_SECONDS } from "../../src/shared/names";
import { memorySecrets, type StoredSecret } from "../support/aws-fakes";
import { authorizationData, EXPIRES, HOST_EUW1, HOST_USE1, NOW, PASSWORD, RAW_TOKEN } from "../support/fixtures";

const OWNED = { "ecr-token-rotator:managed": "true" };
const YEAR_9999 = "9999-12-31T23:59:59.000Z";

/** A stored version written `ageSeconds` before NOW. */
function version(value: Record<string, unknown>, ageSeconds: number): StoredSecret {
  return {
    tags: OWNED,
    current: { secretString: JSON.stringify(value), hasBinary: false, versionId: "v0", createdDate: new Date(NOW.getTime() - ageSeconds * 1000) },
  };
}

const registryValue = (host: string, expiresAt: string) => ({
  registry_url: host,
  auth_token: `stored-password-${host.length}`,
  username: "AWS",
  expires_at: expiresAt,
});

const ecrAnswering = (expiresAt: Date): EcrApi => ({ getAuthorizationToken: async (region) => [authorizationData(region, { expiresAt })] });

/** A rotation at NOW; ECR answers with a token expiring 12 h later unless `ecr` says otherwise. */
function run(store: ReturnType<typeof memorySecrets>, env: Record<string, string>, ecr: EcrApi = ecrAnswering(EXPIRES)) {
  const app = createApp({ AWS_REGION: "us-east-1", WRITE_DEBOUNCE_SECONDS: "3600", ...env });
  const deps = { ...app.deps, ecr, secrets: store.api, now: () => NOW, kubernetes: undefined };
  return runRequest(parseManualRequest({ action: "rotate" }), app.config, deps);
}

describe("the combined secret follows its registry set, whatever the debounce window says", () => {
  const young = new Date(NOW.getTime() + 11 * 3600_000).toISOString();
  const env = { ECR_REGISTRIES: `${HOST_USE1},${HOST_EUW1}`, SECRET_NAME: "ecr/{region}", COMBINED_SECRET_NAME: "ecr/all" };
  const combined = (registries: string[]) => ({ registries, expires_at: young, dockerconfigjson: '{"auths":{}}' });

  it("a registry added a minute after the last write is in the combined secret at once", async () => {
    const store = memorySecrets({ "ecr/us-east-1": version(registryValue(HOST_USE1, young), 60), "ecr/all": version(combined([HOST_USE1]), 60) });
    const report = await run(store, env);
    expect(report.ok).toBe(true);
    expect(report.combinedSecret).toMatchObject({ secretName: "ecr/all", outcome: "updated" });
    expect(report.combinedSecret!.reason).toContain(`its registries changed (${HOST_EUW1} added)`);
    const written = JSON.parse(store.secrets.get("ecr/all")!.current!.secretString!) as { registries: string[]; dockerconfigjson: string };
    expect(written.registries).toEqual([HOST_EUW1, HOST_USE1]);
    expect(Object.keys((JSON.parse(written.dockerconfigjson) as { auths: object }).auths).sort()).toEqual([HOST_EUW1, HOST_USE1]);
  });

  it("a registry removed is dropped at once; the same set inside the window stays debounced", async () => {
    const removed = memorySecrets({ "ecr/all": version(combined([HOST_EUW1, HOST_USE1]), 60) });
    const one = await run(removed, { ...env, ECR_REGISTRIES: HOST_USE1 });
    expect(one.combinedSecret).toMatchObject({ outcome: "updated" });
    expect(one.combinedSecret!.reason).toContain(`its registries changed (${HOST_EUW1} removed)`);
    expect((JSON.parse(removed.secrets.get("ecr/all")!.current!.secretString!) as { registries: string[] }).registries).toEqual([HOST_USE1]);

    const same = memorySecrets({ "ecr/all": version(combined([HOST_EUW1, HOST_USE1]), 60) });
    expect((await run(same, env)).combinedSecret).toMatchObject({ outcome: "debounced" });
    expect(same.writes.filter((w) => w.endsWith("ecr/all"))).toEqual([]);
  });

  it("a stored combined value that does not list its registries is replaced inside the window", async () => {
    const { registries: _dropped, ...unlisted } = combined([HOST_EUW1, HOST_USE1]);
    const store = memorySecrets({ "ecr/all": version(unlisted, 60) });
    const report = await run(store, env);
    expect(report.combinedSecret).toMatchObject({ outcome: "updated" });
    expect(report.combinedSecret!.reason).toContain("does not list its registries");
  });
});

describe("an expiry no ECR token can have is never believed", () => {
  const env = { ECR_REGISTRIES: HOST_USE1, SECRET_NAME: "ecr/creds" };

  it("storedExpiry with a clock: beyond 12 h + the skew margin reads as none, within it as itself", () => {
    const limit = new Date(NOW.getTime() + (ECR_TOKEN_LIFETIME_SECONDS + EXPIRY_CLOCK_SKEW_SECONDS) * 1000);
    expect(storedExpiry({ expires_at: YEAR_9999 }, NOW)).toBeUndefined();
    expect(storedExpiry({ expires_at: new Date(limit.getTime() + 1000).toISOString() }, NOW)).toBeUndefined();
    expect(storedExpiry({ expires_at: limit.toISOString() }, NOW)).toEqual(limit);
    expect(storedExpiry({ expires_at: YEAR_9999 })).toEqual(new Date(YEAR_9999)); // without a clock: as declared
  });

  it("a stored token claiming validity until 9999, written a minute ago, is replaced (never kept by the debounce)", async () => {
    const store = memorySecrets({ "ecr/creds": version(registryValue(HOST_USE1, YEAR_9999), 60) });
    const report = await run(store, env);
    expect(report.ok).toBe(true);
    expect(report.registries[0]).toMatchObject({ outcome: "updated", expiresAt: EXPIRES.toISOString(), secondsRemaining: 12 * 3600 });
    expect(report.registries[0]!.reason).toContain(`no valid expires_at (${YEAR_9999} lies further ahead than an ECR token lives: 12 h + 15 min clock skew)`);
    expect(report.tokenSecondsRemaining).toBe(12 * 3600);
    expect(JSON.parse(store.secrets.get("ecr/creds")!.current!.secretString!)).toMatchObject({ auth_token: PASSWORD, expires_at: EXPIRES.toISOString() });
  });

  it("when no fresh token comes, a stored expiry in 9999 reports no validity at all (not 2.5×10¹¹ s)", async () => {
    const store = memorySecrets({ "ecr/creds": version(registryValue(HOST_USE1, YEAR_9999), 7200) });
    const failing: EcrApi = { getAuthorizationToken: async () => Promise.reject(Object.assign(new Error("denied"), { name: "AccessDeniedException" })) };
    const report = await run(store, env, failing);
    expect(report.ok).toBe(false);
    expect(report.registries[0]).toMatchObject({ outcome: "failed" });
    expect(report.registries[0]!.secondsRemaining).toBeUndefined();
    expect(report.tokenSecondsRemaining).toBeNull();
  });

  it("an ECR expiresAt 30 days ahead is refused with a typed failure, and nothing is written", async () => {
    const far = new Date(NOW.getTime() + 30 * 86_400_000);
    const refused = (() => {
      try {
        validateAuthorizationData("us-east-1", [authorizationData("us-east-1", { expiresAt: far })], NOW, 3600);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(refused).toBeInstanceOf(TokenFetchError);
    expect((refused as TokenFetchError).failure).toEqual({ kind: "too-long" });
    expect((refused as Error).message).toContain("further ahead than an ECR token lives");
    expect(() => validatePublicAuthorizationData({ authorizationToken: RAW_TOKEN, expiresAt: far }, NOW, 3600)).toThrow(
      expect.objectContaining({ failure: { kind: "too-long" } }),
    );

    const stored = new Date(NOW.getTime() + 6 * 3600_000).toISOString();
    const store = memorySecrets({ "ecr/creds": version(registryValue(HOST_USE1, stored), 7200) });
    const report = await run(store, env, ecrAnswering(far));
    expect(report.ok).toBe(false);
    expect(report.registries[0]).toMatchObject({ outcome: "failed", expiresAt: stored, secondsRemaining: 6 * 3600 });
    expect(report.errors.join("\n")).toContain("further ahead than an ECR token lives");
    expect(store.writes).toEqual([]);
  });

  it("an expiry within the skew margin is accepted, and the reported validity is capped at the 12 h lifetime", async () => {
    const ahead = new Date(NOW.getTime() + (12 * 3600 + 600) * 1000);
    const store = memorySecrets();
    const report = await run(store, env, ecrAnswering(ahead));
    expect(report.ok).toBe(true);
    expect(report.registries[0]).toMatchObject({ outcome: "created", expiresAt: ahead.toISOString(), secondsRemaining: 12 * 3600 });
    expect(report.tokenSecondsRemaining).toBe(12 * 3600);
  });
});
