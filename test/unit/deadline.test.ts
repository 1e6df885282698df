/**
 * The invocation deadline (src/shared/deadline.ts) with fake clocks, and what it bounds: the
 * retry loop, LIST paging (also guarded against a repeated continue token and a page that is
 * not a list), the apply engine (work left is `skipped: deadline`), and the SDK call wrapper.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { applyToCluster, type ClusterTarget } from "../../src/kube/apply";
import { forEachListed, ListPagingError } from "../../src/kube/paging";
import { DEFAULT_RETRY_POLICY, withRetry } from "../../src/kube/retry";
import { KubeApiError, type KubeNamespace, type ListPage } from "../../src/kube/types";
import { deadlineAt, deadlineFromLambdaContext, deadlineIn, DeadlineExceededError, NO_DEADLINE, reportReserveMs } from "../../src/shared/deadline";
import { SDK_REQUEST_HANDLER, SDK_REQUEST_TIMEOUT_MS, sdkSend } from "../../src/shared/sdk-call";
import { FakeKubeApi } from "../support/kube-fake-api";
import { createKubernetesStep } from "../../src/clusters/step";
import { loadConfig } from "../../src/config/config";
import { parseRegistryHost } from "../../src/formats/registry-host";
import { parseManualRequest } from "../../src/request/triggers";

afterEach(() => {
  vi.useRealTimers();
});

/** A clock that only moves when told. */
function fakeClock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe("Deadline", () => {
  it("remaining time, expiry, check and the per-call budget follow the clock", () => {
    const clock = fakeClock();
    const d = deadlineIn(2_000, clock);
    expect(d.remainingMs()).toBe(2_000);
    expect(d.budget(10_000)).toBe(2_000);
    expect(d.budget(500)).toBe(500);
    expect(d.expired()).toBe(false);
    expect(() => d.check("x")).not.toThrow();
    clock.advance(1_999);
    expect(d.remainingMs()).toBe(1);
    clock.advance(1);
    expect(d.expired()).toBe(true);
    expect(d.remainingMs()).toBe(0);
    expect(d.budget(10_000)).toBe(1);
    expect(() => d.check("listing namespaces")).toThrow(new DeadlineExceededError("listing namespaces"));
  });

  it("from a Lambda context: the remaining time minus a reporting reserve (10 %, 0.5 s to 5 s)", () => {
    expect(reportReserveMs(3_000)).toBe(500);
    expect(reportReserveMs(30_000)).toBe(3_000);
    expect(reportReserveMs(900_000)).toBe(5_000);
    const clock = fakeClock(5_000);
    expect(deadlineFromLambdaContext({ getRemainingTimeInMillis: () => 3_000 }, clock).at).toBe(5_000 + 2_500);
    expect(deadlineFromLambdaContext({ getRemainingTimeInMillis: () => 60_000 }, clock).at).toBe(5_000 + 55_000);
    // Already out of time: the deadline is now, nothing starts.
    expect(deadlineFromLambdaContext({ getRemainingTimeInMillis: () => 200 }, clock).expired()).toBe(true);
  });

  it("race: work that never settles is rejected at the deadline, and onExpire runs", async () => {
    vi.useFakeTimers();
    const d = deadlineIn(1_000);
    let expiredCalled = false;
    const raced = d.race(new Promise<never>(() => undefined), "a hung call", () => void (expiredCalled = true));
    const outcome = raced.then(
      () => "resolved",
      (e: unknown) => e,
    );
    await vi.advanceTimersByTimeAsync(999);
    expect(expiredCalled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await outcome).toEqual(new DeadlineExceededError("a hung call"));
    expect(expiredCalled).toBe(true);
    expect(d.signal.aborted).toBe(true);
  });

  it("race: work done in time is passed through; no deadline never times out", async () => {
    const d = deadlineIn(60_000);
    await expect(d.race(Promise.resolve(7))).resolves.toBe(7);
    await expect(d.race(Promise.reject(new Error("own failure")))).rejects.toThrow("own failure");
    expect(NO_DEADLINE.remainingMs()).toBe(Number.POSITIVE_INFINITY);
    expect(NO_DEADLINE.expired()).toBe(false);
  });
});

describe("retries and paging under a deadline", () => {
  it("withRetry makes no retry whose wait ends after the deadline, and none after it", async () => {
    const clock = fakeClock();
    const deadline = deadlineIn(1_000, clock);
    let attempts = 0;
    const sleep = async (ms: number) => clock.advance(ms);
    const failing = withRetry(
      async () => {
        attempts++;
        clock.advance(300); // each attempt takes 300 ms and gets a 503
        throw new KubeApiError(503, "unavailable");
      },
      { ...DEFAULT_RETRY_POLICY, maxAttempts: 50, baseDelayMs: 100, maxDelayMs: 100 },
      { sleep, random: () => 0.99, deadline },
    );
    await expect(failing).rejects.toBeInstanceOf(DeadlineExceededError);
    // 300 + 99 + 300 + 99 + 300 = 1098 > 1000: the third attempt ends past the deadline, no fourth.
    expect(attempts).toBe(3);
    expect(clock.now() - 1_000_000).toBeLessThan(1_200);
  });

  it("a repeated continue token ends the LIST with an error instead of looping forever", async () => {
    let calls = 0;
    const list = async (): Promise<ListPage<KubeNamespace>> => {
      if (++calls > 20) throw new Error("the LIST looped");
      return { items: [{ metadata: { name: `ns-${calls}` } }], continue: calls === 1 ? "tok-a" : "tok-b" };
    };
    const seen: string[] = [];
    const run = forEachListed(list, {}, (n) => void seen.push(n.metadata.name), { limit: 1, policy: DEFAULT_RETRY_POLICY });
    await expect(run).rejects.toBeInstanceOf(ListPagingError);
    await expect(run).rejects.toThrow(/repeated a continue token after page 3/);
    expect(calls).toBe(3);
    expect(seen).toEqual(["ns-1", "ns-2", "ns-3"]);
  });

  it("a page that is not a list is an error, not an empty list", async () => {
    const list = async () => ({}) as ListPage<KubeNamespace>;
    await expect(forEachListed(list, {}, () => undefined, { limit: 10, policy: DEFAULT_RETRY_POLICY })).rejects.toThrow(/not a list/);
  });

  it("no page is requested after the deadline", async () => {
    const clock = fakeClock();
    const deadline = deadlineIn(1_000, clock);
    let calls = 0;
    const list = async (): Promise<ListPage<KubeNamespace>> => {
      calls++;
      clock.advance(600);
      return { items: [], continue: `page-${calls}` };
    };
    await expect(forEachListed(list, {}, () => undefined, { limit: 1, policy: DEFAULT_RETRY_POLICY, hooks: { deadline } })).rejects.toBeInstanceOf(
      DeadlineExceededError,
    );
    expect(calls).toBe(2);
  });
});

describe("applyToCluster under a deadline", () => {
  const login = { host: "123456789012.dkr.ecr.us-east-1.amazonaws.com", username: "AWS", password: "deadline-test-password-value" };
  const target: ClusterTarget = {
    cluster: "test",
    namespaces: { mode: "all", exclude: [] },
    pullSecretName: "ecr-pull-secret",
    patchServiceAccounts: [],
    concurrency: 1,
    adoptUnmanaged: false,
    dryRun: false,
  };

  it("namespaces not reached by the deadline are skipped (reason deadline) and the cluster is not ok", async () => {
    const clock = fakeClock();
    const deadline = deadlineIn(1_000, clock);
    const api = new FakeKubeApi();
    for (const ns of ["a", "b", "c", "d"]) api.addNamespace(ns);
    // Every write takes 400 ms of the clock.
    api.faults.push((call) => {
      if (call.verb === "create") clock.advance(400);
      return undefined;
    });
    const result = await applyToCluster({ server: "https://127.0.0.1:1", caData: "", token: "t" }, [login], target, {
      api,
      deadline,
      sleep: async () => undefined,
    });
    expect(result.namespaces.map((n) => [n.namespace, n.outcome, n.reason ?? ""])).toEqual([
      ["a", "created", ""],
      ["b", "created", ""],
      ["c", "created", ""],
      ["d", "skipped", "deadline"],
    ]);
    expect(result.deadlineReached).toBe(true);
    expect(result.ok).toBe(false);
    expect(api.secrets.has("d/ecr-pull-secret")).toBe(false);
  });

  it("a cluster whose namespace LIST the deadline cuts: the named namespaces are skipped, nothing written", async () => {
    const clock = fakeClock();
    const deadline = deadlineAt(clock.now() + 100, clock);
    const api = new FakeKubeApi();
    api.addNamespace("a");
    api.faults.push((call) => {
      clock.advance(200);
      return call.verb === "list" ? new DeadlineExceededError("list namespaces") : undefined;
    });
    const result = await applyToCluster(
      { server: "https://127.0.0.1:1", caData: "", token: "t" },
      [login],
      { ...target, namespaces: { mode: "list", names: ["a", "b"] } },
      { api, deadline },
    );
    expect(result.namespaces).toEqual([
      { namespace: "a", outcome: "skipped", reason: "deadline", problem: expect.objectContaining({ kind: "deadline" }) },
      { namespace: "b", outcome: "skipped", reason: "deadline", problem: expect.objectContaining({ kind: "deadline" }) },
    ]);
    expect(result.errors.join()).toMatch(/skipped: deadline/);
    expect(result.ok).toBe(false);
    expect(api.writes()).toEqual([]);
  });
});

describe("AWS SDK calls", () => {
  it("every client gets a connection timeout and a request timeout that is an error", () => {
    expect(SDK_REQUEST_HANDLER).toEqual({ connectionTimeout: 3_000, requestTimeout: SDK_REQUEST_TIMEOUT_MS, throwOnRequestTimeout: true });
  });

  it("the per-call request timeout is bounded by the deadline, the SDK gets its signal, a hung call ends at the deadline", async () => {
    const clock = fakeClock();
    const seen: Array<{ requestTimeout: number; aborted?: boolean }> = [];
    const roomy = deadlineIn(60_000, clock);
    await sdkSend(roomy, "x", async (o) => void seen.push({ requestTimeout: o.requestTimeout, aborted: o.abortSignal?.aborted }));
    const tight = deadlineIn(1_500, clock);
    await sdkSend(tight, "x", async (o) => void seen.push({ requestTimeout: o.requestTimeout, aborted: o.abortSignal?.aborted }));
    await sdkSend(undefined, "x", async (o) => void seen.push({ requestTimeout: o.requestTimeout, aborted: o.abortSignal?.aborted }));
    expect(seen).toEqual([
      { requestTimeout: SDK_REQUEST_TIMEOUT_MS, aborted: false },
      { requestTimeout: 1_500, aborted: false },
      { requestTimeout: SDK_REQUEST_TIMEOUT_MS, aborted: undefined },
    ]);

    // A call that never answers: the deadline's own timer (fake time) ends it.
    vi.useFakeTimers();
    const hung = deadlineIn(50);
    let signal: AbortSignal | undefined;
    const call = sdkSend(hung, "ECR GetAuthorizationToken", async (o) => {
      signal = o.abortSignal;
      return new Promise<never>(() => undefined);
    });
    const settled = expect(call).rejects.toThrow("deadline reached during ECR GetAuthorizationToken");
    await vi.advanceTimersByTimeAsync(49);
    expect(signal?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await settled;
    expect(signal?.aborted).toBe(true);
    vi.useRealTimers();
    clock.advance(2_000);
    await expect(sdkSend(tight, "y", async () => 1)).rejects.toBeInstanceOf(DeadlineExceededError);
  });
});

describe("a heal whose diagnosis the deadline cuts", () => {
  it("the writes are reported, the cluster is skipped: deadline and not ok (the run fails)", async () => {
    const config = loadConfig({
      AWS_REGION: "us-east-1",
      ECR_REGISTRIES: "123456789012.dkr.ecr.us-east-1.amazonaws.com",
      EKS_CLUSTERS: "prod",
      TARGET_NAMESPACES: "a",
    });
    const api = new FakeKubeApi();
    api.addNamespace("a");
    // The pod LIST of the diagnosis is where the time runs out.
    api.faults.push((call) => (call.method === "listPods" ? new DeadlineExceededError("list pods") : undefined));
    const step = createKubernetesStep(config, {
      access: async () => ({ server: "https://127.0.0.1:1", caData: "", token: "t" }),
      apply: { api },
      diagnose: { api },
    });
    const out = await step({
      request: parseManualRequest({ action: "heal" }),
      credentials: [
        {
          registry: parseRegistryHost("123456789012.dkr.ecr.us-east-1.amazonaws.com"),
          username: "AWS",
          password: "p",
          expiresAt: new Date(Date.now() + 3600_000),
          proxyEndpoint: "https://x",
        },
      ],
      reason: "heal",
      deadline: deadlineIn(60_000),
    });
    const cluster = out.clusters[0]!;
    expect(cluster.namespaces).toEqual([{ namespace: "a", outcome: "created" }]);
    expect(cluster).toMatchObject({ ok: false, skipped: "deadline" });
    expect(cluster.error).toMatch(/diagnosis skipped: deadline/);
  });
});
