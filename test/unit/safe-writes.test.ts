/**
 * Issue 9 items 4 and 5 at the core: the debounce never keeps (or pushes) a token near expiry, a
 * stored value for another registry or in SecretBinary is refused by name, a run that cannot
 * replace a dying token fails loudly, a CreateSecret race re-reads, a bad manual request writes
 * nothing, and a dry-run heal with clusters lists the writes it would make.
 */
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app";
import type { EcrApi, RegistryCredential } from "../../src/rotation/ecr";
import { runRequest, type KubernetesStep } from "../../src/run/run";
import { parseManualRequest, type Request } from "../../src/request/triggers";
import { BadRequestError } from "../../src/shared/errors";
import { memorySecrets, type StoredSecret } from "../support/aws-fakes";
import { authorizationData, EXPIRES, HOST_USE1, NOW, PASSWORD } from "../support/fixtures";

const SECRET = "production/ecr/credentials";
const OWNED = { "ecr-token-rotator:managed": "true" };

const storedValue = (expiresAt: Date, overrides: Record<string, unknown> = {}) =>
  JSON.stringify({ registry_url: HOST_USE1, auth_token: "stored-password-7f3a9", username: "AWS", expires_at: expiresAt.toISOString(), ...overrides });

/** The stored version was written `ageSeconds` ago and its token expires at `expiresAt`. */
function storedSecret(expiresAt: Date, ageSeconds: number, overrides: Record<string, unknown> = {}): Record<string, StoredSecret> {
  return {
    [SECRET]: {
      tags: OWNED,
      current: { secretString: storedValue(expiresAt, overrides), hasBinary: false, versionId: "v0", createdDate: new Date(NOW.getTime() - ageSeconds * 1000) },
    },
  };
}

function harness(
  store: ReturnType<typeof memorySecrets>,
  env: Record<string, string> = {},
  ecr: EcrApi = { getAuthorizationToken: async (region) => [authorizationData(region)] },
) {
  const pushed: Array<{ request: Request; credentials: RegistryCredential[] }> = [];
  const app = createApp({ AWS_REGION: "us-east-1", ECR_REGISTRIES: HOST_USE1, SECRET_NAME: SECRET, EKS_CLUSTERS: "prod", ...env });
  const step: KubernetesStep = async ({ request, credentials }) => {
    pushed.push({ request, credentials });
    return { mode: "applied", clusters: [{ cluster: "prod", region: "us-east-1", ok: true, namespaces: [] }] };
  };
  const deps = { ...app.deps, ecr, secrets: store.api, now: () => NOW, kubernetes: async () => step };
  return { pushed, run: async (payload: Record<string, unknown>) => runRequest(parseManualRequest(payload), app.config, deps) };
}

describe("the debounce never keeps or pushes an expired token (TOKEN_MIN_VALIDITY_MINUTES)", () => {
  it("an expired stored token inside the debounce window is replaced, and heal pushes the fresh one", async () => {
    const store = memorySecrets(storedSecret(new Date(NOW.getTime() - 60_000), 120));
    const h = harness(store);
    const report = await h.run({ action: "heal" });
    expect(report.ok).toBe(true);
    expect(report.registries[0]).toMatchObject({ outcome: "updated", expiresAt: EXPIRES.toISOString(), secondsRemaining: 12 * 3600 });
    expect(report.registries[0]!.reason).toMatch(/stored token expired at .*replaced although the version is only 120 s old/);
    expect(store.writes).toEqual([`put ${SECRET}`]);
    expect(h.pushed[0]!.credentials.map((c) => [c.password, c.expiresAt.toISOString()])).toEqual([[PASSWORD, EXPIRES.toISOString()]]);
  });

  it("a stored token valid for less than TOKEN_MIN_VALIDITY_MINUTES is replaced inside the window too", async () => {
    const store = memorySecrets(storedSecret(new Date(NOW.getTime() + 20 * 60_000), 60));
    const report = await harness(store, { TOKEN_MIN_VALIDITY_MINUTES: "30" }).run({ action: "rotate" });
    expect(report.registries[0]).toMatchObject({ outcome: "updated" });
    expect(report.registries[0]!.reason).toMatch(/expires at .* in 1200 s \(< 1800 s minimum validity\)/);
  });

  it("a stored token valid for at least the minimum is kept inside the window (and is what heal pushes)", async () => {
    const expiresAt = new Date(NOW.getTime() + 40 * 60_000);
    const store = memorySecrets(storedSecret(expiresAt, 60));
    const h = harness(store, { TOKEN_MIN_VALIDITY_MINUTES: "30" });
    const report = await h.run({ action: "heal" });
    expect(report.registries[0]).toMatchObject({ outcome: "debounced", secondsRemaining: 2400 });
    expect(store.writes).toEqual([]);
    expect(h.pushed[0]!.credentials.map((c) => c.password)).toEqual(["stored-password-7f3a9"]);
  });

  it("a version created a moment after this run read its clock (a concurrent run) is debounced; one dated far ahead is not trusted", async () => {
    const expiresAt = new Date(NOW.getTime() + 11 * 3600_000);
    const justWritten = memorySecrets(storedSecret(expiresAt, -2));
    const report = await harness(justWritten).run({ action: "rotate" });
    expect(report.registries[0]).toMatchObject({ outcome: "debounced" });
    expect(report.registries[0]!.reason).toMatch(/current version is 0 s old/);
    expect(justWritten.writes).toEqual([]);
    const farAhead = memorySecrets(storedSecret(expiresAt, -3600));
    expect((await harness(farAhead).run({ action: "rotate" })).registries[0]).toMatchObject({ outcome: "updated" });
    expect(farAhead.writes).toEqual([`put ${SECRET}`]);
  });

  it("a stored value without a valid expires_at is never kept by the debounce", async () => {
    const store = memorySecrets(storedSecret(NOW, 30, { expires_at: "soon" }));
    const report = await harness(store).run({ action: "rotate" });
    expect(report.registries[0]).toMatchObject({ outcome: "updated" });
    expect(report.registries[0]!.reason).toContain("no valid expires_at");
  });
});

describe("stored values that are not this registry's product value are refused by name", () => {
  it("a registry_url for another registry: refused, named, nothing written", async () => {
    const other = "210987654321.dkr.ecr.us-east-1.amazonaws.com";
    const store = memorySecrets(storedSecret(new Date(NOW.getTime() + 3600_000), 7200, { registry_url: other }));
    const report = await harness(store).run({ action: "rotate" });
    expect(report.ok).toBe(false);
    expect(report.registries[0]).toMatchObject({ outcome: "failed" });
    expect(report.registries[0]!.reason).toContain(`secret "${SECRET}" left untouched: its registry_url is "${other}", not ${HOST_USE1}`);
    expect(store.writes).toEqual([]);
  });

  it("a registry_url that is not a host name is described by its length, never quoted", async () => {
    const store = memorySecrets(storedSecret(new Date(NOW.getTime() + 3600_000), 7200, { registry_url: "Zm9vYmFyOnNlY3JldA==Zm9v" }));
    const report = await harness(store).run({ action: "rotate" });
    expect(report.registries[0]!.reason).toContain("its registry_url is a value of 24 characters");
    expect(JSON.stringify(report)).not.toContain("Zm9vYmFyOnNlY3JldA");
  });

  it("an owned secret holding SecretBinary is refused like a malformed one", async () => {
    const store = memorySecrets({
      [SECRET]: { tags: OWNED, current: { secretString: undefined, hasBinary: true, versionId: "v0", createdDate: new Date(NOW.getTime() - 7200_000) } },
    });
    const report = await harness(store).run({ action: "rotate", force: true });
    expect(report.ok).toBe(false);
    expect(report.registries[0]!.reason).toContain(`secret "${SECRET}" left untouched: its current version holds SecretBinary`);
    expect(store.writes).toEqual([]);
  });
});

describe("a run that cannot replace a token near expiry fails loudly", () => {
  const failingEcr: EcrApi = {
    getAuthorizationToken: async () => {
      throw Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });
    },
  };

  it("ECR fails while the stored token has 10 minutes left: an error naming the expiry, the validity reported", async () => {
    const expiresAt = new Date(NOW.getTime() + 600_000);
    const store = memorySecrets(storedSecret(expiresAt, 11 * 3600));
    const report = await harness(store, {}, failingEcr).run({ action: "rotate" });
    expect(report.ok).toBe(false);
    expect(report.tokenSecondsRemaining).toBe(600);
    expect(report.registries[0]).toMatchObject({ outcome: "failed", expiresAt: expiresAt.toISOString(), secondsRemaining: 600 });
    expect(report.errors).toContain(
      `${HOST_USE1}: the token stored in ${SECRET} expires at ${expiresAt.toISOString()}, in 600 s (less than TOKEN_MIN_VALIDITY_MINUTES=60) and could not be replaced: pulls with it fail soon`,
    );
    expect(store.writes).toEqual([]);
  });

  it("an already expired stored token that cannot be replaced says it expired", async () => {
    const store = memorySecrets(storedSecret(new Date(NOW.getTime() - 5_000), 12 * 3600));
    const report = await harness(store, {}, failingEcr).run({ action: "rotate" });
    expect(report.errors.some((e) => /expired at .* and could not be replaced: pulls with it fail$/.test(e))).toBe(true);
    expect(report.tokenSecondsRemaining).toBe(-5);
  });

  it("a stored token with hours left is reported with its validity but adds no expiry alarm", async () => {
    const store = memorySecrets(storedSecret(new Date(NOW.getTime() + 5 * 3600_000), 5 * 3600));
    const report = await harness(store, {}, failingEcr).run({ action: "rotate" });
    expect(report.ok).toBe(false);
    expect(report.tokenSecondsRemaining).toBe(5 * 3600);
    expect(report.errors).toHaveLength(1);
  });
});

describe("concurrent runs: CreateSecret meeting ResourceExistsException re-reads and continues", () => {
  it("the secret created by another run between our read and our create: no failure, the other run's value is kept", async () => {
    const store = memorySecrets();
    const inner = store.api;
    let raced = false;
    // Another run creates the secret right after our DescribeSecret said it is missing.
    store.api = {
      ...inner,
      describe: async (name) => {
        const answer = await inner.describe(name);
        if (!raced && answer === undefined) {
          raced = true;
          await inner.create({
            name,
            secretString: storedValue(new Date(NOW.getTime() + 11 * 3600_000)),
            kmsKeyId: undefined,
            tags: OWNED,
            clientRequestToken: "x".repeat(64),
          });
        }
        return answer;
      },
    };
    const h = harness(store);
    const report = await h.run({ action: "heal" });
    expect(report.ok).toBe(true);
    expect(report.registries[0]).toMatchObject({ outcome: "debounced" });
    expect(store.writes).toEqual([`create ${SECRET}`, `create ${SECRET}`]);
    expect(h.pushed[0]!.credentials.map((c) => c.password)).toEqual(["stored-password-7f3a9"]);
  });
});

describe("a bad request writes nothing", () => {
  it('heal with namespaces ["Bad_NS"] is rejected before Secrets Manager is touched', async () => {
    const store = memorySecrets();
    const h = harness(store);
    await expect(h.run({ action: "heal", namespaces: ["team-a", "Bad_NS"] })).rejects.toThrow(/namespaces: "Bad_NS" is not a valid namespace name/);
    expect(store.writes).toEqual([]);
    expect(h.pushed).toEqual([]);
  });

  it('registries [H, "https://H/"] is one registry: one write', async () => {
    const store = memorySecrets();
    const report = await harness(store).run({ action: "rotate", registries: [HOST_USE1, `https://${HOST_USE1}/`] });
    expect(report.registries.map((r) => r.registry)).toEqual([HOST_USE1]);
    expect(store.writes).toEqual([`create ${SECRET}`]);
  });

  it("every problem of a manual request is named at once", () => {
    let error: unknown;
    try {
      parseManualRequest({ action: "heal", registries: ["not-a-registry"], namespaces: ["Bad_NS", "ok", "-x"] });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as Error).message).toMatch(/registries: invalid ECR registry host "not-a-registry"/);
    expect((error as Error).message).toMatch(/namespaces: "Bad_NS", "-x" are not valid namespace names/);
  });
});

describe("a dry-run heal with clusters configured", () => {
  it("passes the credentials it would push to the Kubernetes step (in dry-run mode) and writes nothing", async () => {
    const store = memorySecrets();
    const h = harness(store);
    const report = await h.run({ action: "heal", dryRun: true });
    expect(report.ok).toBe(true);
    expect(report.registries[0]).toMatchObject({ outcome: "would-create" });
    expect(report.kubernetes).toMatchObject({ mode: "applied" });
    expect(h.pushed).toHaveLength(1);
    expect(h.pushed[0]!.request.dryRun).toBe(true);
    expect(h.pushed[0]!.credentials.map((c) => c.registry.host)).toEqual([HOST_USE1]);
    expect(store.writes).toEqual([]);
  });
});
