// Leaves pods on the bed the way a kubelet leaves a failing image pull (no kubelet runs here):
//   - the container's waiting state through the pods/status subresource (ImagePullBackOff with
//     `Back-off pulling image "X"` — or, as kubelets ≥ 1.32 write it, `…: ErrImagePull: <error>` —
//     ErrImagePull with the error itself, or InvalidImageName);
//   - the Events the kubelet emits for each failed pull, in order: Pulling, Failed with the
//     detailed error, Failed `Error: ErrImagePull`, BackOff, Failed `Error: ImagePullBackOff`
//     (pkg/kubelet/images/image_manager.go), each about the container
//     (involvedObject.fieldPath `spec.containers{NAME}`), from component `kubelet`.
// Everything goes straight to the API server as the bed's admin (keep-alive, a few requests in
// flight), so a bed of hundreds of broken pods is set up in seconds. Test data only.
import { Agent, request } from "node:https";
import type { Bed } from "./index";

export interface AdminClient {
  /** One request; resolves with the status and the parsed body (throws on a status not in `ok`). */
  call<T = unknown>(method: string, path: string, body?: unknown, opts?: { contentType?: string; ok?: number[] }): Promise<{ status: number; body: T }>;
  /** Runs `work` over `items`, `concurrency` at a time. */
  each<T>(items: readonly T[], work: (item: T) => Promise<void>, concurrency?: number): Promise<void>;
  close(): void;
}

/** An admin client straight to the bed's API server (not through the fault proxy, not counted). */
export function adminClient(bed: Bed, maxSockets = 16): AdminClient {
  const agent = new Agent({ keepAlive: true, maxSockets, ca: bed.caPem });
  const url = new URL(bed.apiServerUrl);
  const call = <T>(method: string, path: string, body?: unknown, opts: { contentType?: string; ok?: number[] } = {}) =>
    new Promise<{ status: number; body: T }>((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path,
          method,
          headers: {
            authorization: `Bearer ${bed.adminToken}`,
            accept: "application/json",
            ...(payload !== undefined ? { "content-type": opts.contentType ?? "application/json", "content-length": Buffer.byteLength(payload) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const status = res.statusCode ?? 0;
            if (!(opts.ok ?? [200, 201]).includes(status)) return reject(new Error(`${method} ${path}: HTTP ${status} ${text.slice(0, 300)}`));
            resolve({ status, body: (text ? JSON.parse(text) : undefined) as T });
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  return {
    call,
    async each(items, work, concurrency = maxSockets) {
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(concurrency, items.length) }, async () => {
          while (next < items.length) await work(items[next++]!);
        }),
      );
    },
    close: () => agent.destroy(),
  };
}

export interface BrokenPod {
  namespace: string;
  name: string;
  image: string;
  /** The error the container runtime returned (e.g. `rpc error: code = Unknown desc = …`). */
  error: string;
  /** Default ImagePullBackOff. */
  reason?: "ImagePullBackOff" | "ErrImagePull" | "InvalidImageName";
  /** How the kubelet words the ImagePullBackOff waiting message: ≥ 1.32 carries the error. Default "1.31". */
  kubelet?: "1.31" | "1.32";
  container?: string;
  serviceAccountName?: string;
  imagePullSecrets?: string[];
  /** Extra containers that run fine (their status is `running`). */
  healthyContainers?: Array<{ name: string; image: string }>;
  /** Emit the kubelet's events (default true). */
  events?: boolean;
  /** The first event's time (default: now − 5 min); the sequence spans 4 seconds after it. */
  at?: Date;
}

const seconds = (d: Date) => d.toISOString().replace(/\.\d+Z$/, "Z");

/** The waiting message the kubelet leaves for this failure. */
export function waitingMessage(p: BrokenPod): string {
  const reason = p.reason ?? "ImagePullBackOff";
  if (reason === "ErrImagePull" || reason === "InvalidImageName") return p.error;
  return p.kubelet === "1.32" ? `Back-off pulling image "${p.image}": ErrImagePull: ${p.error}` : `Back-off pulling image "${p.image}"`;
}

/** The kubelet's events for one failed pull (InvalidImageName: one `InspectFailed` event, no pull). */
export function kubeletEvents(p: BrokenPod, uid: string): unknown[] {
  const container = p.container ?? "app";
  const t0 = p.at ?? new Date(Date.now() - 5 * 60_000);
  const involvedObject = { apiVersion: "v1", kind: "Pod", namespace: p.namespace, name: p.name, uid, fieldPath: `spec.containers{${container}}` };
  const make = (n: number, reason: string, type: string, message: string) => ({
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: `${p.name}.${uid.slice(0, 8)}${String(n).padStart(2, "0")}`, namespace: p.namespace },
    involvedObject,
    reason,
    type,
    message,
    source: { component: "kubelet", host: "bed-node-1" },
    reportingComponent: "kubelet",
    reportingInstance: "bed-node-1",
    firstTimestamp: seconds(new Date(t0.getTime() + n * 1000)),
    lastTimestamp: seconds(new Date(t0.getTime() + n * 1000)),
    count: 1,
  });
  if ((p.reason ?? "ImagePullBackOff") === "InvalidImageName")
    return [make(0, "InspectFailed", "Warning", p.error), make(1, "Failed", "Warning", "Error: InvalidImageName")];
  return [
    make(0, "Pulling", "Normal", `Pulling image "${p.image}"`),
    make(1, "Failed", "Warning", `Failed to pull image "${p.image}": ${p.error}`),
    make(2, "Failed", "Warning", "Error: ErrImagePull"),
    make(3, "BackOff", "Normal", `Back-off pulling image "${p.image}"`),
    make(4, "Failed", "Warning", "Error: ImagePullBackOff"),
  ];
}

/** Creates the pod, sets its status through the status subresource, and emits the kubelet's events. */
export async function createBrokenPod(admin: AdminClient, p: BrokenPod): Promise<string> {
  const container = p.container ?? "app";
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: p.name, namespace: p.namespace },
    spec: {
      automountServiceAccountToken: false,
      ...(p.serviceAccountName ? { serviceAccountName: p.serviceAccountName } : {}),
      ...(p.imagePullSecrets ? { imagePullSecrets: p.imagePullSecrets.map((name) => ({ name })) } : {}),
      containers: [{ name: container, image: p.image }, ...(p.healthyContainers ?? [])],
    },
  };
  const created = await admin.call<{ metadata: { uid: string } }>("POST", `/api/v1/namespaces/${p.namespace}/pods`, pod);
  const uid = created.body.metadata.uid;
  const status = {
    status: {
      phase: "Pending",
      containerStatuses: [
        {
          name: container,
          image: p.image,
          imageID: "",
          ready: false,
          restartCount: 0,
          started: false,
          state: { waiting: { reason: p.reason ?? "ImagePullBackOff", message: waitingMessage(p) } },
        },
        ...(p.healthyContainers ?? []).map((c) => ({
          name: c.name,
          image: c.image,
          imageID: `${c.image}@sha256:${"0".repeat(64)}`,
          ready: true,
          restartCount: 0,
          started: true,
          state: { running: { startedAt: seconds(new Date()) } },
        })),
      ],
    },
  };
  await admin.call("PATCH", `/api/v1/namespaces/${p.namespace}/pods/${p.name}/status`, status, { contentType: "application/merge-patch+json" });
  if (p.events !== false) for (const e of kubeletEvents(p, uid)) await admin.call("POST", `/api/v1/namespaces/${p.namespace}/events`, e);
  return uid;
}

/** Namespaces (each with its `default` ServiceAccount: no controller-manager runs on the bed). */
export async function createNamespaces(admin: AdminClient, names: readonly string[], labels: Record<string, string> = {}): Promise<void> {
  await admin.each(names, async (name) => {
    await admin.call("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name, labels } }, { ok: [201, 409] });
    await admin.call(
      "POST",
      `/api/v1/namespaces/${name}/serviceaccounts`,
      { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default", namespace: name } },
      { ok: [201, 409] },
    );
  });
}

/** A `kubernetes.io/dockerconfigjson` Secret body for `auths` of host → password (username AWS). */
export function dockerConfigSecret(namespace: string, name: string, auths: Record<string, string>): unknown {
  const config = {
    auths: Object.fromEntries(
      Object.entries(auths).map(([h, pw]) => [h, { username: "AWS", password: pw, auth: Buffer.from(`AWS:${pw}`).toString("base64") }]),
    ),
  };
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "kubernetes.io/dockerconfigjson",
    metadata: { name, namespace },
    data: { ".dockerconfigjson": Buffer.from(JSON.stringify(config)).toString("base64") },
  };
}

/** A real-shaped ECR password (base64 of the DATA_KEY envelope) expiring at `expiresAt`. */
export function ecrPassword(expiresAt: Date, tag = "BEDPAYLOAD"): string {
  return Buffer.from(
    JSON.stringify({
      payload: `${tag}-${"P".repeat(600)}`,
      datakey: "K".repeat(200),
      version: "2",
      type: "DATA_KEY",
      expiration: Math.floor(expiresAt.getTime() / 1000),
    }),
  ).toString("base64");
}
