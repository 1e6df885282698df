/**
 * The pod restart's and the Events' requests on the real kube-apiserver, through both adapters
 * (node:https and client-node), as the product's identity with infra/k8s/components/fallback/rbac.yaml (+ the admission policy) and
 * infra/k8s/pod-restart-rbac.yaml: an Event is created and its repeat patched (the API server
 * validates the legacy core/v1 shape); an eviction deletes a pod of the UID given and refuses
 * another UID; without the restart Role, the eviction is forbidden.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEksToken } from "../../src/eks/token";
import { podEvents, recordEvents } from "../../src/kube/events";
import { createKubeApi } from "../../src/kube/client";
import { createHttpKubeApi } from "../../src/kube/http-client";
import { DEFAULT_RETRY_POLICY } from "../../src/kube/retry";
import { KubeApiError, type KubeApi } from "../../src/kube/types";
import { DEFAULT_IDENTITIES, startBed, type Bed } from "../bed";
import { PRODUCT_MANIFESTS } from "../bed/product-manifests";
import { join } from "node:path";

let bed: Bed;
const paging = { limit: 500, policy: { ...DEFAULT_RETRY_POLICY, maxAttempts: 1 } };
const adapters: Record<string, () => Promise<KubeApi>> = {};

beforeAll(async () => {
  bed = await startBed({ rbacManifests: [...PRODUCT_MANIFESTS] });
  const token = await createEksToken({
    clusterName: bed.clusterName,
    region: bed.region,
    credentials: { accessKeyId: DEFAULT_IDENTITIES.rotator.accessKeyId, secretAccessKey: DEFAULT_IDENTITIES.rotator.secretAccessKey },
  });
  const connection = { server: bed.apiServerUrl, caData: bed.caData, token: token.token };
  adapters.https = async () => createHttpKubeApi(connection);
  adapters["client-node"] = () => createKubeApi(connection);
  for (const ns of ["ev-https", "ev-client-node", "noroles"]) await bed.createNamespace(ns);
  for (const ns of ["ev-https", "ev-client-node"])
    await bed.kubectl(["-n", ns, "apply", "-f", join(process.cwd(), "infra/k8s/pod-restart-rbac.yaml")], { check: true });
}, 300_000);
afterAll(async () => {
  await bed?.stop();
});

const pod = (ns: string, name: string) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: ns },
  spec: { containers: [{ name: "app", image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1" }] },
});
const uidOf = async (ns: string, name: string) =>
  JSON.parse((await bed.kubectl(["-n", ns, "get", "pod", name, "-o", "json"], { check: true })).stdout).metadata.uid as string;

describe.each(["https", "client-node"])("through the %s adapter", (adapter) => {
  const ns = `ev-${adapter}`;

  it("an Event is created, and a repeat raises its count (the API server accepts the shape)", async () => {
    await bed.kubectl(["apply", "-f", "-"], { input: JSON.stringify(pod(ns, "web")), check: true });
    const uid = await uidOf(ns, "web");
    const api = await adapters[adapter]!();
    try {
      const rows = [
        {
          namespace: ns,
          pod: "web",
          podUid: uid,
          container: "app",
          image: "x/app:1",
          reason: "ImagePullBackOff",
          causes: [{ code: "token-expired" as const, message: "m", hint: "h" }],
        },
      ];
      expect(await recordEvents(api, podEvents(rows, new Date()), paging, new Date())).toMatchObject({ recorded: 1, failed: 0 });
      expect(await recordEvents(api, podEvents(rows, new Date()), paging, new Date())).toMatchObject({ repeated: 1, failed: 0 });
    } finally {
      await api.close?.();
    }
    const events = JSON.parse(
      (await bed.kubectl(["-n", ns, "get", "events", "--field-selector", "source=ecr-token-rotator", "-o", "json"], { check: true })).stdout,
    ).items;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      count: 2,
      type: "Warning",
      reason: "EcrPullCredentials",
      reportingComponent: "ecr-token-rotator",
      involvedObject: { uid },
    });
  });

  it("an eviction deletes the pod of the UID given, refuses another UID (409), and is forbidden where the restart Role is not bound", async () => {
    await bed.kubectl(["apply", "-f", "-"], { input: JSON.stringify(pod(ns, "evict-me")), check: true });
    await bed.kubectl(["apply", "-f", "-"], { input: JSON.stringify(pod("noroles", `evict-${adapter}`)), check: true });
    const api = await adapters[adapter]!();
    try {
      const wrong = await api.evictPod(ns, "evict-me", "00000000-0000-0000-0000-000000000000").catch((e: unknown) => e);
      expect(wrong).toBeInstanceOf(KubeApiError);
      expect((wrong as KubeApiError).problem.kind).toBe("conflict");
      await api.evictPod(ns, "evict-me", await uidOf(ns, "evict-me"));
      const denied = await api.evictPod("noroles", `evict-${adapter}`).catch((e: unknown) => e);
      expect((denied as KubeApiError).problem.kind).toBe("forbidden");
    } finally {
      await api.close?.();
    }
    for (let i = 0; (await bed.kubectl(["-n", ns, "get", "pod", "evict-me"])).code === 0; i++) {
      if (i > 100) throw new Error("the evicted pod is still there");
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});
