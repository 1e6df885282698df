// KUBE_CLUSTER_CONCURRENCY: the clusters of one run are worked on concurrently, never more than
// the cap at once, every cluster reported in the configured order, one failing never stopping
// the others.
import { describe, expect, it } from "vitest";
import { loadConfig, type ClusterConfig } from "../../src/config/config";
import { createDiagnoseStep, createKubernetesStep } from "../../src/clusters/step";
import { forEachCluster } from "../../src/fleet/each";
import { ConfigError } from "../../src/shared/errors";
import type { Request } from "../../src/request/triggers";

const CLUSTERS = Array.from({ length: 9 }, (_, i) => `c${i}`);

function config(cap?: string) {
  return loadConfig({
    AWS_REGION: "us-east-1",
    ECR_REGISTRIES: "123456789012.dkr.ecr.us-east-1.amazonaws.com",
    EKS_CLUSTERS: CLUSTERS.join(","),
    ...(cap !== undefined ? { KUBE_CLUSTER_CONCURRENCY: cap } : {}),
  });
}

/** An access function that holds each cluster for a while and records how many overlap. */
function meteredAccess(holdMs: number) {
  const seen = { inFlight: 0, peak: 0, started: [] as string[] };
  const access = async (cluster: ClusterConfig): Promise<never> => {
    seen.started.push(cluster.name);
    seen.peak = Math.max(seen.peak, ++seen.inFlight);
    await new Promise((r) => setTimeout(r, holdMs));
    seen.inFlight--;
    throw new Error(`cluster ${cluster.name} unreachable`);
  };
  return { seen, access };
}

const request = (action: Request["action"]): Request => ({ action, trigger: { kind: "manual", via: "manual" }, dryRun: false, force: false });

describe("KUBE_CLUSTER_CONCURRENCY", () => {
  it("defaults to 4 and accepts 1–32; anything else is a configuration error naming the variable", () => {
    expect(config().kubernetes.clusterConcurrency).toBe(4);
    expect(config("1").kubernetes.clusterConcurrency).toBe(1);
    expect(config("32").kubernetes.clusterConcurrency).toBe(32);
    for (const bad of ["0", "33", "two", "1.5"]) {
      let error: unknown;
      try {
        config(bad);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain(`KUBE_CLUSTER_CONCURRENCY=${JSON.stringify(bad)}`);
    }
  });

  it.each([1, 3, 9])("a heal over 9 clusters runs at most %i at once and reports all of them in order", async (cap) => {
    const { seen, access } = meteredAccess(15);
    const step = createKubernetesStep(config(String(cap)), { access });
    const report = await step({ request: request("heal"), credentials: [], reason: "heal" });
    expect(seen.peak).toBe(cap);
    expect(seen.started.sort()).toEqual([...CLUSTERS].sort());
    expect(report.clusters.map((c) => c.cluster)).toEqual(CLUSTERS);
    for (const c of report.clusters) {
      expect(c.ok).toBe(false);
      expect(c.error).toContain(`cluster ${c.cluster} unreachable`);
    }
  });

  it("the diagnosis honours the same cap", async () => {
    const { seen, access } = meteredAccess(15);
    const step = createDiagnoseStep(config("2"), { access });
    const report = await step({ request: request("diagnose") });
    expect(seen.peak).toBe(2);
    expect(report.clusters.map((c) => c.cluster)).toEqual(CLUSTERS);
  });

  it("with the cap at the cluster count, every cluster starts before any finishes (wall time follows the slowest)", async () => {
    const hold: Record<string, number> = { a: 60, b: 10, c: 20, d: 30 };
    const clusters = Object.keys(hold).map((name) => ({ name, region: "us-east-1" }));
    const events: string[] = [];
    const out = await forEachCluster(clusters, 4, async (c) => {
      events.push(`start ${c.name}`);
      await new Promise((r) => setTimeout(r, hold[c.name]));
      events.push(`end ${c.name}`);
      return c.name;
    });
    expect(out).toEqual(["a", "b", "c", "d"]);
    expect(events.slice(0, 4)).toEqual(["start a", "start b", "start c", "start d"]);
    expect(events.at(-1)).toBe("end a");
  });
});
