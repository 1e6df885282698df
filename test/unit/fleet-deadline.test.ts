/**
 * The invocation's deadline covers the whole fleet: with KUBE_CLUSTER_CONCURRENCY=1 and a slow
 * first cluster, the clusters still waiting behind the cap when the deadline passes are not
 * started (no access, no request) and are reported `skipped: deadline`; the run fails and the
 * Report still comes back. Asserted with a fake clock and the order of events, not with timing.
 */
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app";
import { createKubernetesStep } from "../../src/clusters/step";
import type { ClusterConfig } from "../../src/config/config";
import { parseManualRequest } from "../../src/request/triggers";
import { runRequest } from "../../src/run/run";
import { deadlineIn } from "../../src/shared/deadline";
import { emptySecrets, memoryEcr } from "../support/aws-fakes";
import { NOW } from "../support/fixtures";
import { FakeKubeApi } from "../support/kube-fake-api";

/** A clock that only moves when told. */
function fakeClock(start = 5_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

const CLUSTERS = ["slow", "waiting-1", "waiting-2"];

function fleet() {
  const clock = fakeClock();
  const deadline = deadlineIn(1_000, clock);
  const events: string[] = [];
  const app = createApp({ AWS_REGION: "us-east-1", EKS_CLUSTERS: CLUSTERS.join(","), KUBE_CLUSTER_CONCURRENCY: "1", KUBE_CONCURRENCY: "1" });
  // The slow cluster: 20 namespaces, each write takes 150 ms of the clock.
  const api = new FakeKubeApi();
  for (let i = 0; i < 20; i++) api.addNamespace(`ns-${String(i).padStart(2, "0")}`);
  api.faults.push((call) => {
    events.push(`${clock.now() < deadline.at ? "before" : "AFTER"} the deadline: ${call.verb} ${call.resource}`);
    if (call.verb === "create") clock.advance(150);
    return undefined;
  });
  const step = createKubernetesStep(app.config, {
    access: async (cluster: ClusterConfig) => {
      events.push(`access ${cluster.name}`);
      return { server: "https://127.0.0.1:1", caData: "", token: "t" };
    },
    apply: { api, sleep: async () => undefined },
    diagnose: { api },
  });
  const deps = { ...app.deps, ecr: memoryEcr(), secrets: emptySecrets(), now: () => NOW, tokenNow: () => NOW, kubernetes: async () => step, deadline };
  return { app, deps, events, deadline, api };
}

describe("the deadline covers the whole fleet (KUBE_CLUSTER_CONCURRENCY=1, the first cluster slow)", () => {
  it("the clusters waiting behind the cap are skipped: deadline without being started; the run fails; the Report comes back", async () => {
    const { app, deps, events, deadline, api } = fleet();
    const report = await runRequest(parseManualRequest({ action: "heal" }), app.config, deps);

    // Only the slow cluster was ever reached, and nothing was sent after the deadline.
    expect(events.filter((e) => e.startsWith("access"))).toEqual(["access slow"]);
    expect(events.filter((e) => e.startsWith("AFTER"))).toEqual([]);
    expect(api.writes().length).toBeGreaterThan(0);

    expect(report.ok).toBe(false);
    expect(report.deadline).toEqual({ at: new Date(deadline.at).toISOString(), reached: true });
    const clusters = report.kubernetes!.clusters;
    expect(clusters.map((c) => [c.cluster, c.ok, c.skipped])).toEqual(CLUSTERS.map((name) => [name, false, "deadline"]));
    // The slow cluster: what was written before the deadline is reported, the rest skipped.
    const slow = clusters[0]!;
    const outcomes = slow.namespaces.map((n) => n.outcome);
    expect(outcomes.filter((o) => o === "created").length).toBe(api.writes().length);
    expect(outcomes.filter((o) => o === "skipped").length).toBe(20 - api.writes().length);
    expect(slow.namespaces.filter((n) => n.outcome === "skipped").every((n) => n.reason === "deadline")).toBe(true);
    // The waiting ones: not started, nothing to report but the deadline.
    for (const waiting of clusters.slice(1)) {
      expect(waiting.namespaces).toEqual([]);
      expect(waiting.error).toMatch(/^skipped: deadline/);
      expect(waiting.diagnosis).toBeUndefined();
    }
    for (const name of CLUSTERS) expect(report.errors.some((e) => e.startsWith(`cluster ${name}: `))).toBe(true);
  });

  it("a cluster whose access never settles is cut at the deadline: the waiting clusters still come back skipped", async () => {
    const clock = fakeClock();
    const deadline = deadlineIn(1_000, clock);
    const app = createApp({ AWS_REGION: "us-east-1", EKS_CLUSTERS: CLUSTERS.join(","), KUBE_CLUSTER_CONCURRENCY: "1" });
    const started: string[] = [];
    const step = createKubernetesStep(app.config, {
      // An access that ignores the deadline (a hung DescribeCluster/AssumeRole in another SDK
      // path): the step itself must not wait for it beyond the deadline.
      access: (cluster) => {
        started.push(cluster.name);
        return new Promise<never>(() => undefined);
      },
      apply: { api: new FakeKubeApi() },
    });
    const out = step({ request: parseManualRequest({ action: "heal" }), credentials: [], reason: "heal", deadline });
    await new Promise((r) => setTimeout(r, 20));
    // The deadline passes (its signal's timer, armed for the time left, then sees the clock past it).
    clock.advance(1_000);
    const report = await out;
    expect(started).toEqual(["slow"]);
    expect(report.clusters.map((c) => [c.cluster, c.skipped])).toEqual(CLUSTERS.map((name) => [name, "deadline"]));
  });
});
