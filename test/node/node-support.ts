// Helpers of the tests on the bed's real node (test/bed/node.ts): Deployments of the node's
// image, and waits on what the kubelet reports for their pods. Reads go through kubectl as admin.
import { join } from "node:path";
import { acquireDirLock, NODE_STATE_DIR } from "../bed/host-journal";
import type { Bed } from "../bed/index";
import { nodeSupport } from "../bed/node";
import type { LooseJson } from "../support/loose-json";

/**
 * Whether the node tests run here. Only a machine without what a node needs at all (no cgroups,
 * no overlayfs, not Linux, not root) skips them, with the reason; anything else that keeps the
 * node from starting fails the test file.
 */
export const NODE_SUPPORT = nodeSupport();
if (!NODE_SUPPORT.ok) process.stderr.write(`node tests skipped: ${NODE_SUPPORT.reason}\n`);

export interface PodView {
  name: string;
  uid: string;
  phase: string;
  /** The container's waiting reason (ErrImagePull, ImagePullBackOff, …) or "running". */
  state: string;
  message: string;
}

export function podView(p: LooseJson): PodView {
  const cs = p.status?.containerStatuses?.[0];
  const waiting = cs?.state?.waiting;
  return {
    name: p.metadata.name,
    uid: p.metadata.uid,
    phase: p.status?.phase ?? "",
    state: cs?.state?.running ? "running" : (waiting?.reason ?? (cs?.state?.terminated ? "terminated" : "pending")),
    message: waiting?.message ?? "",
  };
}

export async function pods(bed: Bed, ns: string, app: string): Promise<PodView[]> {
  const r = await bed.kubectl(["-n", ns, "get", "pods", "-l", `app=${app}`, "-o", "json"], { check: true });
  return (JSON.parse(r.stdout).items as LooseJson[]).filter((p) => !p.metadata.deletionTimestamp).map(podView);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Which pods to wait for: `count` pods of Deployment `app` (default "app") in `ns`. */
export interface PodQuery {
  ns: string;
  count: number;
  /** For the timeout's message. */
  what: string;
  app?: string;
  timeoutMs?: number;
}

/** Polls the pods until there are `q.count` of them and `pred` holds for all; returns them. */
export async function waitPods(bed: Bed, q: PodQuery, pred: (p: PodView) => boolean): Promise<PodView[]> {
  const timeoutMs = q.timeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  let last: PodView[];
  for (;;) {
    last = await pods(bed, q.ns, q.app ?? "app");
    if (last.length === q.count && last.every(pred)) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${q.what} in ${q.ns}: ${JSON.stringify(last)}`);
    await sleep(250);
  }
}

/** A Deployment of `image` (always pulled: a cached image would hide a credential problem). */
export function deployment(ns: string, app: string, image: string, o: { replicas?: number; pullSecret?: string; serviceAccount?: string } = {}) {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: app, namespace: ns },
    spec: {
      replicas: o.replicas ?? 1,
      selector: { matchLabels: { app } },
      template: {
        metadata: { labels: { app } },
        spec: {
          ...(o.serviceAccount ? { serviceAccountName: o.serviceAccount } : {}),
          ...(o.pullSecret ? { imagePullSecrets: [{ name: o.pullSecret }] } : {}),
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 0,
          containers: [{ name: "app", image, imagePullPolicy: "Always" }],
        },
      },
    },
  };
}

export async function apply(bed: Bed, obj: unknown): Promise<void> {
  await bed.kubectl(["apply", "-f", "-"], { input: JSON.stringify(obj), check: true });
}

/** The reasons and messages of the Events about pods of namespace `ns`. */
export async function podEvents(bed: Bed, ns: string): Promise<Array<{ reason: string; message: string; pod: string }>> {
  const r = await bed.kubectl(["-n", ns, "get", "events", "-o", "json"], { check: true });
  return (JSON.parse(r.stdout).items as LooseJson[])
    .filter((e) => e.involvedObject?.kind === "Pod")
    .map((e) => ({ reason: e.reason, message: e.message, pod: e.involvedObject.name }));
}

/**
 * Creates a namespace and waits for the controller-manager's `default` ServiceAccount (the
 * bed's createNamespace also writes that ServiceAccount and can race with the controller).
 */
export async function createNamespace(bed: Bed, name: string): Promise<void> {
  await bed.kubectl(["create", "namespace", name], { check: true });
  for (let i = 0; ; i++) {
    if ((await bed.kubectl(["-n", name, "get", "serviceaccount", "default"])).code === 0) return;
    if (i > 300) throw new Error(`no default ServiceAccount in ${name} after 60 s (is kube-controller-manager running?)`);
    await sleep(200);
  }
}

/**
 * The node is machine-wide: a test file on it holds this lock from beforeAll to afterAll, so the
 * files of test/node/ run one after the other even when vitest runs files in parallel (and a
 * file's "machine as before" snapshot is never taken while another file's node runs).
 */
export function holdNodeTestLock(waitMs = 1_500_000): Promise<() => void> {
  return acquireDirLock(join(NODE_STATE_DIR, "tests.lock"), waitMs, (m) => process.stderr.write(`node tests: ${m}\n`));
}
