import { describe, expect, it } from "vitest";
import { decodeEksToken } from "../../src/eks/token";
import { EksTokenCache } from "../../src/eks/token-cache";

const CREDS = { accessKeyId: "AKIAROTATORTESTKEY01", secretAccessKey: "rotator-test-secret-key" };
const T0 = Date.parse("2026-11-24T10:00:00Z");
const MIN = 60_000;

function clock(start = T0) {
  let now = start;
  return { now: () => new Date(now), advance: (ms: number) => (now += ms), set: (ms: number) => (now = ms) };
}

const req = (clusterName = "test-cluster", region = "us-east-1", credentials = CREDS) => ({ clusterName, region, credentials });

describe("EksTokenCache", () => {
  it("signs with the injected clock and reuses the token while ≥ 1 min of its 14-min window remains", async () => {
    const c = clock();
    const cache = new EksTokenCache({ now: c.now });
    const first = await cache.get(req());
    expect(decodeEksToken(first.token).searchParams.get("X-Amz-Date")).toBe("20261124T100000Z");
    expect(first.expiresAt.getTime()).toBe(T0 + 14 * MIN);
    c.advance(13 * MIN); // exactly 1 min left: still reused
    expect((await cache.get(req())).token).toBe(first.token);
    expect(cache.signed).toBe(1);
    c.advance(1000); // 59 s left: re-signed at the new time
    const second = await cache.get(req());
    expect(second.token).not.toBe(first.token);
    expect(decodeEksToken(second.token).searchParams.get("X-Amz-Date")).toBe("20261124T101301Z");
    expect(cache.signed).toBe(2);
    expect(cache.size).toBe(1);
  });

  it("keys tokens by cluster, region and access key id", async () => {
    const c = clock();
    const cache = new EksTokenCache({ now: c.now });
    const a = await cache.get(req("a"));
    const b = await cache.get(req("b"));
    const aOtherRegion = await cache.get(req("a", "eu-west-1"));
    const aOtherKey = await cache.get(req("a", "us-east-1", { accessKeyId: "AKIAOTHERKEY00000001", secretAccessKey: "x" }));
    expect(new Set([a.token, b.token, aOtherRegion.token, aOtherKey.token]).size).toBe(4);
    expect(cache.signed).toBe(4);
    expect((await cache.get(req("a"))).token).toBe(a.token);
    expect((await cache.get(req("a", "eu-west-1"))).token).toBe(aOtherRegion.token);
    expect(cache.signed).toBe(4);
  });

  it("keys tokens by the signing identity: the role and the very credentials, never reusing another identity's token", async () => {
    const c = clock();
    const cache = new EksTokenCache({ now: c.now });
    const asRole = (roleArn: string | undefined, credentials = CREDS) => ({ ...req("shared", "eu-west-1", credentials), roleArn });
    // Two entries of one cluster through two roles (or a role changed between warm invocations):
    // even credentials that share an access key id must not share a token.
    const hub = await cache.get(asRole(undefined));
    c.advance(1000);
    const spokeA = await cache.get(asRole("arn:aws:iam::222222222222:role/spoke-a"));
    const spokeB = await cache.get(asRole("arn:aws:iam::333333333333:role/spoke-b"));
    expect(cache.signed).toBe(3);
    // Signed a second later, each for its role: not the hub's token handed out again.
    expect(hub.expiresAt.getTime()).toBe(T0 + 14 * MIN);
    for (const t of [spokeA, spokeB]) expect(t.expiresAt.getTime()).toBe(T0 + 1000 + 14 * MIN);
    expect(spokeA.token).not.toBe(hub.token);
    // Same access key id, other secret or session token (credentials refreshed): signed again, with them.
    const refreshed = { ...CREDS, sessionToken: "rotator-session-token-2" };
    const again = await cache.get(asRole("arn:aws:iam::222222222222:role/spoke-a", refreshed));
    expect(decodeEksToken(again.token).searchParams.get("X-Amz-Security-Token")).toBe("rotator-session-token-2");
    const otherSecret = await cache.get(asRole("arn:aws:iam::222222222222:role/spoke-a", { ...CREDS, secretAccessKey: "other-secret" }));
    expect(otherSecret.token).not.toBe(spokeA.token);
    expect(cache.signed).toBe(5);
    // The same identity again: reused.
    expect((await cache.get(asRole("arn:aws:iam::222222222222:role/spoke-a"))).token).toBe(spokeA.token);
    expect(cache.signed).toBe(5);
  });

  it("the cache key holds no secret key or session token in clear", () => {
    const credentials = {
      accessKeyId: "ASIAKEYINTHECACHEKEY",
      secretAccessKey: "cache-key-secret-access-key-0123456789",
      sessionToken: "cache-key-session-token-IQoJb3JpZ2lu",
    };
    const key = EksTokenCache.key({ clusterName: "c", region: "us-east-1", credentials, roleArn: "arn:aws:iam::222222222222:role/r" });
    expect(key).toContain("ASIAKEYINTHECACHEKEY");
    expect(key).toContain("arn:aws:iam::222222222222:role/r");
    for (const secret of [credentials.secretAccessKey, credentials.sessionToken]) {
      expect(key).not.toContain(secret);
      expect(key).not.toContain(Buffer.from(secret).toString("base64"));
      expect(key).not.toContain(Buffer.from(secret).toString("base64url"));
    }
  });

  it("re-signs when the clock went back before the signing time", async () => {
    const c = clock();
    const cache = new EksTokenCache({ now: c.now });
    const first = await cache.get(req());
    c.set(T0 - 5 * MIN);
    const second = await cache.get(req());
    expect(second.token).not.toBe(first.token);
    expect(second.expiresAt.getTime()).toBe(T0 + 9 * MIN);
  });

  it("shares one signing between concurrent requests for the same key", async () => {
    let calls = 0;
    const cache = new EksTokenCache({
      now: clock().now,
      create: async (p) => {
        calls += 1;
        await new Promise((r) => setImmediate(r));
        return { token: `k8s-aws-v1.fake-${p.clusterName}-${calls}`, expiresAt: new Date(p.now!.getTime() + 14 * MIN) };
      },
    });
    const tokens = await Promise.all([cache.get(req()), cache.get(req()), cache.get(req()), cache.get(req("other"))]);
    expect(calls).toBe(2);
    expect(tokens[0]).toBe(tokens[1]);
    expect(tokens[1]).toBe(tokens[2]);
  });

  it("does not cache a failed signing", async () => {
    let fail = true;
    const cache = new EksTokenCache({
      now: clock().now,
      create: async (p) => {
        if (fail) throw new Error("boom");
        return { token: "k8s-aws-v1.ok", expiresAt: new Date(p.now!.getTime() + 14 * MIN) };
      },
    });
    await expect(cache.get(req())).rejects.toThrow("boom");
    fail = false;
    expect((await cache.get(req())).token).toBe("k8s-aws-v1.ok");
  });

  it("invalidates one cluster's tokens (e.g. after a 401) and honours a custom margin and size bound", async () => {
    const c = clock();
    const cache = new EksTokenCache({ now: c.now, minRemainingMs: 5 * MIN, maxEntries: 2 });
    const a = await cache.get(req("a"));
    await cache.get(req("b"));
    cache.invalidate("a", "us-east-1");
    expect(cache.size).toBe(1);
    c.advance(1000);
    expect((await cache.get(req("a"))).token).not.toBe(a.token);
    await cache.get(req("c"));
    expect(cache.size).toBe(2); // "b" (oldest) evicted
    const before = cache.signed;
    await cache.get(req("a"));
    expect(cache.signed).toBe(before); // "a" kept
    c.advance(9 * MIN); // exactly 5 min left: reused with this margin
    await cache.get(req("a"));
    expect(cache.signed).toBe(before);
    c.advance(1000); // 4 min 59 s left: re-signed
    await cache.get(req("a"));
    expect(cache.signed).toBe(before + 1);
    cache.clear();
    expect(cache.size).toBe(0);
  });
});
