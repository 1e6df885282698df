import { describe, expect, it } from "vitest";
import { backoffDelay, classify, DEFAULT_RETRY_POLICY, parseRetryAfter, withRetry, type RetryPolicy } from "../../src/kube/retry";
import { KubeApiError } from "../../src/kube/types";

const policy: RetryPolicy = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1_000, maxRetryAfterMs: 5_000 };
const apiError = (status: number, retryAfterSeconds?: number) => new KubeApiError(status, "x", retryAfterSeconds === undefined ? {} : { retryAfterSeconds });

describe("classify", () => {
  it.each([
    [409, "conflict", true],
    [429, "throttled", true],
    [500, "server", true],
    [502, "server", true],
    [503, "server", true],
    [504, "server", true],
    [403, "forbidden", false],
    [401, "unauthorized", false],
    [404, "not-found", false],
    [400, "other", false],
    [422, "other", false],
  ])("HTTP %i → %s (retryable %s)", (status, kind, retryable) => {
    expect(classify(apiError(status))).toMatchObject({ kind, retryable });
  });

  it("network errors are retryable: a network Problem, Node/undici codes in the cause chain (never the message text)", () => {
    expect(classify(KubeApiError.network("ECONNRESET"))).toMatchObject({ kind: "network", retryable: true });
    const undiciStyle = new TypeError("fetch failed", { cause: Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" }) });
    expect(classify(undiciStyle)).toMatchObject({ kind: "network", retryable: true });
    expect(classify(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })).retryable).toBe(true);
    // Node's "socket hang up" carries ECONNRESET: the code classifies it, not the words.
    expect(classify(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })).retryable).toBe(true);
    expect(classify(new Error("socket hang up")).retryable).toBe(false);
    expect(classify(new Error("something else")).retryable).toBe(false);
    expect(classify(KubeApiError.network("DEPTH_ZERO_SELF_SIGNED_CERT")).retryable).toBe(false);
    // A name that does not resolve does not start resolving on the next attempt; EAI_AGAIN may.
    expect(classify(KubeApiError.network("ENOTFOUND")).retryable).toBe(false);
    expect(classify(KubeApiError.network("EAI_AGAIN")).retryable).toBe(true);
  });

  it("carries Retry-After of 429 and 503", () => {
    expect(classify(apiError(429, 2)).retryAfterMs).toBe(2000);
    expect(classify(apiError(503, 1)).retryAfterMs).toBe(1000);
  });
});

describe("parseRetryAfter", () => {
  it("reads delta-seconds and HTTP dates", () => {
    expect(parseRetryAfter("3")).toBe(3);
    expect(parseRetryAfter(" 0 ")).toBe(0);
    const now = new Date("2026-11-24T08:00:00Z");
    expect(parseRetryAfter("Tue, 24 Nov 2026 08:00:05 GMT", now)).toBe(5);
    expect(parseRetryAfter("garbage")).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

describe("backoffDelay", () => {
  it("full jitter under an exponentially growing, capped ceiling", () => {
    expect(backoffDelay(1, policy, undefined, () => 0.999)).toBe(99);
    expect(backoffDelay(2, policy, undefined, () => 0.999)).toBe(199);
    expect(backoffDelay(3, policy, undefined, () => 0.999)).toBe(399);
    expect(backoffDelay(10, policy, undefined, () => 0.999)).toBe(999);
    expect(backoffDelay(3, policy, undefined, () => 0)).toBe(0);
  });

  it("honours Retry-After as a floor, capped by maxRetryAfterMs", () => {
    expect(backoffDelay(1, policy, 2_000, () => 0.5)).toBe(2_000);
    expect(backoffDelay(1, policy, 60_000, () => 0.5)).toBe(5_000);
  });
});

describe("withRetry", () => {
  const run = async (errors: unknown[], p: RetryPolicy = policy) => {
    const sleeps: number[] = [];
    let calls = 0;
    const outcome = await withRetry(
      async () => {
        const e = errors[calls++];
        if (e) throw e as Error;
        return "ok";
      },
      p,
      { sleep: async (ms) => void sleeps.push(ms), random: () => 0.5 },
    ).then(
      (v) => ({ value: v }),
      (e: unknown) => ({ error: e }),
    );
    return { outcome, calls, sleeps };
  };

  it("retries 429/5xx/network errors and succeeds", async () => {
    const r = await run([apiError(429), apiError(503), KubeApiError.network("ECONNRESET")]);
    expect(r.outcome).toEqual({ value: "ok" });
    expect(r.calls).toBe(4);
    expect(r.sleeps).toEqual([50, 100, 200]);
  });

  it("waits at least Retry-After", async () => {
    const r = await run([apiError(429, 2)]);
    expect(r.sleeps).toEqual([2_000]);
  });

  it("stops after maxAttempts and rethrows the last error", async () => {
    const last = apiError(500);
    const r = await run([apiError(500), apiError(500), apiError(500), last, apiError(500)]);
    expect(r.calls).toBe(4);
    expect(r.outcome).toEqual({ error: last });
  });

  it("does not retry 403/401/422", async () => {
    for (const status of [403, 401, 422]) {
      const r = await run([apiError(status)]);
      expect(r.calls).toBe(1);
      expect(r.sleeps).toEqual([]);
    }
  });

  it("calls onConflict before retrying a 409", async () => {
    let reread = 0;
    let calls = 0;
    const value = await withRetry(
      async () => {
        if (calls++ === 0) throw apiError(409);
        return reread;
      },
      policy,
      { sleep: async () => undefined, onConflict: async () => void reread++ },
    );
    expect(value).toBe(1);
  });

  it("the default policy bounds attempts", () => {
    expect(DEFAULT_RETRY_POLICY.maxAttempts).toBeGreaterThan(1);
    expect(DEFAULT_RETRY_POLICY.maxAttempts).toBeLessThanOrEqual(10);
  });
});
