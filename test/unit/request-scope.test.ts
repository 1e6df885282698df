/**
 * A request can narrow the configured scope, never widen it (issue 19 §2): its namespaces and
 * clusters must be within what configuration selects, refused by name before any write; under
 * NAMESPACE_SELECTOR the cluster is refused (nothing written to it) when a named namespace's
 * labels do not match; an alarm naming a cluster that is not configured writes no cluster.
 */
import { describe, expect, it } from "vitest";
import { createDiagnoseStep, createKubernetesStep } from "../../src/clusters/step";
import { loadConfig, type Config } from "../../src/config/config";
import { namespacesOutsideScope } from "../../src/request/scope";
import { parseManualRequest } from "../../src/request/triggers";
import { handleEvent, runRequest, type RunDeps } from "../../src/run/run";
import { BadRequestError } from "../../src/shared/errors";
import { powertoolsTelemetry } from "../../src/run/telemetry";
import { FakeKubeApi } from "../support/kube-fake-api";
import { memoryEcr, memorySecrets } from "../support/aws-fakes";
import { HOST_USE1, NOW } from "../support/fixtures";

const config = (extra: Record<string, string>): Config => loadConfig({ AWS_REGION: "us-east-1", ECR_REGISTRIES: HOST_USE1, EKS_CLUSTERS: "prod", ...extra });
const access = async () => ({ server: "https://127.0.0.1:1", caData: "", token: "t" });

function fleet(cfg: Config, api: FakeKubeApi) {
  const ecr = memoryEcr();
  const sm = memorySecrets();
  const step = createKubernetesStep(cfg, { access, apply: { api, sleep: async () => undefined }, diagnose: { api } });
  const diagnose = createDiagnoseStep(cfg, { access, apply: { api }, diagnose: { api } });
  const deps: RunDeps = { ecr, secrets: sm.api, now: () => NOW, tokenNow: () => NOW, kubernetes: async () => step, diagnose: async () => diagnose };
  return { deps, ecr, sm };
}

function cluster(...namespaces: Array<[string, Record<string, string>?]>): FakeKubeApi {
  const api = new FakeKubeApi();
  for (const [name, labels] of namespaces) api.addNamespace(name, labels ?? {});
  return api;
}

describe("namespacesOutsideScope", () => {
  it("TARGET_NAMESPACES: only the listed names", () => {
    expect(namespacesOutsideScope({ mode: "list", names: ["ns-0"] }, ["ns-0", "ns-1"])).toEqual(["ns-1"]);
  });

  it("all namespaces: the excluded globs and the system namespaces are outside", () => {
    const all = { mode: "all" as const, exclude: ["sandbox-*"] };
    expect(namespacesOutsideScope(all, ["app", "sandbox-1", "kube-system"])).toEqual(["sandbox-1", "kube-system"]);
  });

  it("NAMESPACE_SELECTOR: decided in the cluster, from the labels", () => {
    expect(namespacesOutsideScope({ mode: "selector", labelSelector: "team=a" }, ["anything"])).toEqual([]);
  });
});

describe("a manual request outside the configured namespaces is refused before any write", () => {
  const cases: Array<[string, Record<string, string>, string]> = [
    ["TARGET_NAMESPACES=ns-0", { TARGET_NAMESPACES: "ns-0" }, "ns-1"],
    ["EXCLUDE_NAMESPACES=ns-1", { EXCLUDE_NAMESPACES: "ns-1" }, "ns-1"],
    ["the system namespaces (default)", {}, "kube-system"],
  ];
  for (const [what, env, named] of cases) {
    for (const action of ["heal", "diagnose"] as const) {
      it(`${action} naming ${named} with ${what}`, async () => {
        const api = cluster(["ns-0"], ["ns-1"], ["kube-system"]);
        const cfg = config(env);
        const { deps, ecr, sm } = fleet(cfg, api);
        const run = runRequest(parseManualRequest({ action, namespaces: ["ns-0", named] }), cfg, deps);
        await expect(run).rejects.toThrow(BadRequestError);
        await expect(run).rejects.toThrow(new RegExp(`namespace "${named}" outside the configured namespaces`));
        expect(ecr.calls()).toBe(0);
        expect(sm.writes).toEqual([]);
        expect(api.count()).toBe(0);
      });
    }
  }

  it("a request within the configured namespaces narrows them", async () => {
    const api = cluster(["ns-0"], ["ns-1"]);
    const cfg = config({ TARGET_NAMESPACES: "ns-0,ns-1" });
    const report = await runRequest(parseManualRequest({ action: "heal", namespaces: ["ns-1"] }), cfg, fleet(cfg, api).deps);
    expect(report.ok).toBe(true);
    expect(report.kubernetes!.clusters[0]!.namespaces.map((n) => [n.namespace, n.outcome])).toEqual([["ns-1", "created"]]);
  });

  it("the refusal is bounded: a count and the first few names", async () => {
    const cfg = config({ TARGET_NAMESPACES: "ns-0" });
    const names = Array.from({ length: 10_000 }, (_, i) => `other-${i}`);
    const error = await runRequest(parseManualRequest({ action: "heal", namespaces: names }), cfg, fleet(cfg, cluster()).deps).catch((e: Error) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as Error).message).toContain('"other-0", "other-1", "other-2", "other-3", "other-4" and 9995 more');
    expect((error as Error).message.length).toBeLessThan(400);
  });
});

describe("NAMESPACE_SELECTOR: a named namespace must match it", () => {
  const selector = { NAMESPACE_SELECTOR: "team=a" };

  it("heal naming a namespace whose labels do not match: nothing written to the cluster, refused by name, counted", async () => {
    const api = cluster(["a-1", { team: "a" }], ["b-1", { team: "b" }]);
    const cfg = config(selector);
    const { deps } = fleet(cfg, api);
    const report = await runRequest(parseManualRequest({ action: "heal", namespaces: ["a-1", "b-1"] }), cfg, deps);
    expect(report.ok).toBe(false);
    const c = report.kubernetes!.clusters[0]!;
    expect(c.outOfScope).toEqual(["b-1"]);
    expect(c.error).toMatch(/namespace "b-1" outside the configured namespaces \(NAMESPACE_SELECTOR="team=a"\)/);
    expect(api.writes()).toEqual([]);
  });

  it("heal naming matching namespaces writes them", async () => {
    const api = cluster(["a-1", { team: "a" }], ["b-1", { team: "b" }]);
    const cfg = config(selector);
    const report = await runRequest(parseManualRequest({ action: "heal", namespaces: ["a-1"] }), cfg, fleet(cfg, api).deps);
    expect(report.ok).toBe(true);
    expect(report.kubernetes!.clusters[0]!.namespaces.map((n) => n.namespace)).toEqual(["a-1"]);
  });

  it("diagnose naming a namespace whose labels do not match is refused by name", async () => {
    const api = cluster(["a-1", { team: "a" }], ["b-1", { team: "b" }]);
    const cfg = config(selector);
    const report = await runRequest(parseManualRequest({ action: "diagnose", namespaces: ["b-1"] }), cfg, fleet(cfg, api).deps);
    expect(report.ok).toBe(false);
    expect(report.kubernetes!.clusters[0]!.error).toMatch(/namespace "b-1" outside the configured namespaces/);
    expect(api.count("listPods")).toBe(0);
  });
});

describe("an alarm naming a cluster that is not configured", () => {
  const alarm = (names?: string[]) => ({
    source: "aws.cloudwatch",
    alarmData: {
      alarmName: "pull-failures",
      state: { value: "ALARM" },
      previousState: { value: "OK" },
      configuration: { metrics: (names ?? []).map((n) => ({ metricStat: { metric: { dimensions: { ClusterName: n } } } })) },
    },
  });

  it("rotates, writes no cluster, names the unknown cluster and does not fail", async () => {
    const api = cluster(["app"]);
    const cfg = config({});
    const { deps, sm } = fleet(cfg, api);
    const report = await handleEvent(alarm(["someone-elses"]), cfg, deps);
    expect(report.ok).toBe(true);
    expect(sm.writes).toEqual([`create ecr/123456789012/us-east-1/credentials`]);
    expect(report.kubernetes).toMatchObject({ clusters: [], unknownClusters: ["someone-elses"] });
    expect(api.count()).toBe(0);
  });

  it("naming a configured and an unknown cluster: heals the configured one, names the other", async () => {
    const api = cluster(["app"]);
    const cfg = config({});
    const report = await handleEvent(alarm(["prod", "someone-elses"]), cfg, fleet(cfg, api).deps);
    expect(report.ok).toBe(true);
    expect(report.kubernetes!.clusters.map((c) => c.cluster)).toEqual(["prod"]);
    expect(report.kubernetes!.unknownClusters).toEqual(["someone-elses"]);
  });

  it("an alarm without a cluster dimension heals every configured cluster", async () => {
    const api = cluster(["app"]);
    const cfg = config({});
    const report = await handleEvent(alarm(), cfg, fleet(cfg, api).deps);
    expect(report.kubernetes!.clusters.map((c) => c.cluster)).toEqual(["prod"]);
    expect(report.kubernetes!.unknownClusters).toBeUndefined();
  });
});

describe("scope refusals are counted", () => {
  let out = "";
  const write = process.stdout.write.bind(process.stdout);
  const capture = async (work: () => Promise<void> | void): Promise<Array<Record<string, unknown>>> => {
    out = "";
    process.stdout.write = (chunk: string | Uint8Array) => ((out += chunk.toString()), true);
    try {
      await work();
    } finally {
      process.stdout.write = write;
    }
    return out
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => "_aws" in l);
  };

  it("RequestsRefused for a refused request; AlarmClustersUnknown and NamespacesOutOfScope from the Report", async () => {
    const cfg = config({ TARGET_NAMESPACES: "ns-0" });
    const refused = await runRequest(parseManualRequest({ action: "heal", namespaces: ["ns-1"] }), cfg, fleet(cfg, cluster()).deps).catch((e: unknown) => e);
    expect((await capture(() => powertoolsTelemetry().reportRejected(refused)))[0]).toMatchObject({ RequestsRefused: 1 });

    const api = cluster(["a-1", { team: "a" }], ["b-1", { team: "b" }]);
    const selector = config({ NAMESPACE_SELECTOR: "team=a" });
    const outOfScope = await runRequest(parseManualRequest({ action: "heal", namespaces: ["b-1"] }), selector, fleet(selector, api).deps);
    expect((await capture(() => powertoolsTelemetry().reportFinished(outOfScope)))[0]).toMatchObject({ NamespacesOutOfScope: 1 });

    const plain = config({});
    const alarmed = await handleEvent(
      {
        source: "aws.cloudwatch",
        alarmData: {
          alarmName: "pull-failures",
          state: { value: "ALARM" },
          previousState: { value: "OK" },
          configuration: { metrics: [{ metricStat: { metric: { dimensions: { ClusterName: "elsewhere" } } } }] },
        },
      },
      plain,
      fleet(plain, cluster(["app"])).deps,
    );
    expect((await capture(() => powertoolsTelemetry().reportFinished(alarmed)))[0]).toMatchObject({ AlarmClustersUnknown: 1, RotationSucceeded: 1 });
  });
});
