/**
 * A heal's request budget at scale, with the in-memory API: the namespaces are listed once (the
 * diagnosis after the writes reuses that list), pages of LIST_PAGE_SIZE, one PATCH per
 * namespace; and the diagnosis then covers exactly the namespaces a diagnose action would.
 */
import { describe, expect, it } from "vitest";
import { createDiagnoseStep, createKubernetesStep } from "../../src/clusters/step";
import { loadConfig } from "../../src/config/config";
import { parseRegistryHost } from "../../src/formats/registry-host";
import { parseManualRequest } from "../../src/request/triggers";
import { LIST_PAGE_SIZE } from "../../src/shared/names";
import type { KubePod } from "../../src/kube/types";
import { FakeKubeApi } from "../support/kube-fake-api";
import { MAX_SECRET_EVENTS } from "../../src/kube/events";

const HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const config = (extra: Record<string, string> = {}) =>
  loadConfig({ AWS_REGION: "us-east-1", ECR_REGISTRIES: HOST, EKS_CLUSTERS: "prod", EXCLUDE_NAMESPACES: "kube-system,excluded", ...extra });
const credentials = [
  {
    registry: parseRegistryHost(HOST),
    username: "AWS",
    password: "new-password",
    expiresAt: new Date(Date.now() + 3600_000),
    proxyEndpoint: `https://${HOST}`,
  },
];
const access = async () => ({ server: "https://127.0.0.1:1", caData: "", token: "t" });

/** A pull secret as the product wrote it with an older token. */
function ownSecret(namespace: string) {
  const auth = Buffer.from("AWS:old-password").toString("base64");
  return {
    metadata: { name: "ecr-pull-secret", namespace, labels: { "app.kubernetes.io/managed-by": "ecr-token-rotator" } },
    type: "kubernetes.io/dockerconfigjson",
    data: { ".dockerconfigjson": Buffer.from(JSON.stringify({ auths: { [HOST]: { username: "AWS", password: "old-password", auth } } })).toString("base64") },
  };
}

const stuckPod = (namespace: string, name: string): KubePod => ({
  metadata: { name, namespace, uid: `uid-${name}` },
  spec: { containers: [{ name: "app", image: `${HOST}/app:1` }] },
  status: {
    phase: "Pending",
    containerStatuses: [{ name: "app", image: `${HOST}/app:1`, state: { waiting: { reason: "ImagePullBackOff", message: "Back-off" } } }],
  },
});

describe("a heal's requests at scale", () => {
  it("2,500 namespaces, new token: one namespace LIST (shared with the diagnosis), the Secret LIST, one PATCH each, one pod LIST", async () => {
    const N = 2_500;
    const api = new FakeKubeApi();
    for (let i = 0; i < N; i++) {
      const ns = `ns-${String(i).padStart(4, "0")}`;
      api.addNamespace(ns);
      api.putSecret(ownSecret(ns));
    }
    const step = createKubernetesStep(config(), { access, apply: { api }, diagnose: { api } });
    const report = await step({ request: parseManualRequest({ action: "heal" }), credentials, reason: "heal" });
    const cluster = report.clusters[0]!;
    expect(cluster.ok).toBe(true);
    expect(cluster.namespaces.filter((n) => n.outcome === "updated")).toHaveLength(N);
    const pages = Math.ceil(N / LIST_PAGE_SIZE);
    expect(LIST_PAGE_SIZE).toBe(1_000);
    expect(api.count("listNamespaces")).toBe(pages);
    expect(api.count("listSecrets")).toBe(pages);
    expect(api.count("patchSecret")).toBe(N);
    expect(api.count("listPods")).toBe(1);
    // …and RECORD_EVENTS (on by default): one LIST of the product's own Events (dedupe) and at
    // most MAX_SECRET_EVENTS Events on written Secrets (FakeKubeApi logs those in podActionCalls).
    expect(api.count("listEvents")).toBe(1);
    expect(api.count()).toBe(N + 2 * pages + 1 + 1);
    expect(api.podActionCalls.map((c) => c.method)).toEqual(new Array(MAX_SECRET_EVENTS).fill("createEvent"));
    expect(cluster.events).toMatchObject({ recorded: MAX_SECRET_EVENTS, requests: MAX_SECRET_EVENTS + 1 });
    expect(cluster.diagnosis).toMatchObject({ podsScanned: 0, stuck: [], requests: 1 });
  });

  it("the heal's diagnosis covers the namespaces a diagnose action covers (terminating ones included, excluded ones not)", async () => {
    const api = new FakeKubeApi();
    for (const ns of ["team-a", "team-b", "excluded", "kube-system"]) api.addNamespace(ns);
    api.addNamespace("leaving", {}, "Terminating");
    for (const ns of ["team-a", "leaving", "excluded", "kube-system"]) api.putPod(stuckPod(ns, `pod-${ns}`));
    const heal = await createKubernetesStep(config(), { access, apply: { api }, diagnose: { api } })({
      request: parseManualRequest({ action: "heal" }),
      credentials,
      reason: "heal",
    });
    const listsInHeal = api.count("listNamespaces");
    const diagnose = await createDiagnoseStep(config(), { access, diagnose: { api } })({ request: parseManualRequest({ action: "diagnose" }) });
    expect(listsInHeal).toBe(1);
    expect(api.count("listNamespaces")).toBe(2); // the diagnose action lists them itself
    const stuckIn = (r: typeof heal) => r.clusters[0]!.diagnosis!.stuck.map((s) => s.namespace);
    expect(stuckIn(heal)).toEqual(["leaving", "team-a"]);
    expect(stuckIn(heal)).toEqual(stuckIn(diagnose));
    expect(heal.clusters[0]!.namespaces.find((n) => n.namespace === "leaving")).toMatchObject({ outcome: "skipped", reason: "namespace is terminating" });
  });
});
