/**
 * `KubeApi` over `node:https` (no dependency): one keep-alive agent trusting the cluster CA,
 * JSON in and out, merge patches with `application/merge-patch+json`. Lighter than the
 * client-node adapter (./client) — no 1.4 MB client to load, far less garbage per request —
 * which is what keeps a 1,000-namespace heal inside its memory budget (docs/kube.md).
 */
import { Agent, request } from "node:https";
import { DeadlineExceededError, NO_DEADLINE, type Deadline } from "../shared/deadline";
import type { KubeConnection } from "./types";
import { scrub } from "../shared/redact-text";
import { ListStream, NotAListError } from "./list-stream";
import { parseRetryAfter, transportError } from "./retry";
import {
  KubeApiError,
  type KubeApi,
  type KubeEvent,
  type KubeExternalSecret,
  type KubeNamespace,
  type KubePod,
  type KubeResource,
  type KubeSecret,
  type KubeServiceAccount,
  type KubeVerb,
  type ListOptions,
  type ListPage,
} from "./types";

const MERGE_PATCH = "application/merge-patch+json";
const ESO_PATH = "/apis/external-secrets.io/v1";
/**
 * Total time one request may take, connection to last byte (a hung or trickling answer counts
 * as a network error and is retried); never more than the invocation's deadline leaves.
 */
const REQUEST_TIMEOUT_MS = 30_000;
const USER_AGENT = "ecr-token-rotator";
const WRITE_ACCEPT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json";

export interface HttpKubeApiOptions {
  /** Max sockets of the keep-alive pool (match the engine's concurrency). */
  maxSockets?: number;
  /** Total timeout of one request (default 30 s), bounded by `deadline`. */
  timeoutMs?: number;
  /** The invocation's deadline: a request in flight when it passes is destroyed. */
  deadline?: Deadline;
}

const enc = encodeURIComponent;
/** A 2xx answer to a LIST that is not a list (e.g. `{}` from a misrouted proxy), streamed or not. */
const notAList = (where: { verb: KubeVerb; resource: KubeResource; namespace?: string }) =>
  new KubeApiError(-1, "the API server answered 2xx with something that is not a list (no items array)", where);

export function createHttpKubeApi(connection: KubeConnection, options: HttpKubeApiOptions = {}): KubeApi {
  const base = new URL(connection.server);
  if (base.protocol !== "https:") throw new Error(`the API server URL must be https, got ${base.protocol}`);
  const prefix = base.pathname.replace(/\/+$/, "");
  const agent = new Agent({
    keepAlive: true,
    maxSockets: options.maxSockets ?? 32,
    ...(connection.caData ? { ca: Buffer.from(connection.caData, "base64") } : {}),
  });
  const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
  const deadline = options.deadline ?? NO_DEADLINE;

  /**
   * One request; a 2xx body is parsed only for reads (writes resolve to undefined). With
   * `onItem`, a LIST's items are handed to it one by one as they arrive (./list-stream) and the
   * answer resolves with an empty `items`.
   */
  function call<T>(
    method: string,
    path: string,
    where: { verb: KubeVerb; resource: KubeResource; namespace?: string },
    body?: unknown,
    contentType = "application/json",
    onItem?: (item: unknown) => void,
  ): Promise<T> {
    const parse = method === "GET";
    const what = `${where.verb} ${where.resource}`;
    if (deadline.expired()) return Promise.reject(new DeadlineExceededError(what));
    return new Promise<T>((resolveRequest, rejectRequest) => {
      // One total timer per request (not an idle timer: a trickling answer must end too).
      const left = deadline.remainingMs();
      const byDeadline = left <= timeoutMs;
      let settled = false;
      const finish = () => {
        settled = true;
        clearTimeout(timer);
        deadline.signal.removeEventListener("abort", onDeadline);
      };
      const resolve = (value: T) => {
        if (settled) return;
        finish();
        resolveRequest(value);
      };
      const reject = (error: unknown) => {
        if (settled) return;
        finish();
        rejectRequest(error);
      };
      const onDeadline = () => {
        reject(new DeadlineExceededError(what));
        req.destroy();
      };
      const timer = setTimeout(
        () => {
          if (byDeadline) onDeadline();
          else {
            reject(new KubeApiError(0, "", { ...where, networkCode: "ETIMEDOUT" }));
            req.destroy();
          }
        },
        Math.min(timeoutMs, left),
      );
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        {
          agent,
          protocol: "https:",
          hostname: base.hostname,
          port: base.port || 443,
          method,
          path: prefix + path,
          headers: {
            // A write's answer is only its metadata (~400 bytes instead of the whole object with
            // its docker config): less to send, to receive, and no secret material in transit back.
            accept: parse ? "application/json" : WRITE_ACCEPT,
            authorization: `Bearer ${connection.token}`,
            "user-agent": USER_AGENT,
            ...(payload !== undefined ? { "content-type": contentType, "content-length": Buffer.byteLength(payload) } : {}),
          },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          const ok = status >= 200 && status < 300;
          // A successful write's echo of the object (with the docker config) is not needed.
          const keep = !ok || parse;
          // Released once the answer is complete: a keep-alive socket may keep this response's
          // listeners, and with them the caller's consumer (and what it collected), alive.
          let stream = ok && onItem ? new ListStream<unknown>(onItem) : undefined;
          onItem = undefined;
          // Decoded as it arrives, on the JS heap: no Buffer.concat copy of a multi-MB page
          // outside it (malloc'd and, once freed, rarely given back to the system).
          let text = "";
          if (keep) res.setEncoding("utf8");
          res.on("data", (c: string | Buffer) => {
            if (settled || !keep) return;
            if (stream === undefined) {
              text += c as string;
              return;
            }
            try {
              stream.feed(c as string);
            } catch (error) {
              // Not a LIST, or the consumer refused an item: stop reading.
              stream = undefined;
              reject(error instanceof NotAListError || error instanceof SyntaxError ? notAList(where) : error);
              req.destroy();
            }
          });
          res.on("error", (error) => reject(toError(error, where)));
          res.on("end", () => {
            if (!keep) {
              resolve(undefined as T);
              return;
            }
            if (stream) {
              const ended = stream;
              stream = undefined;
              try {
                resolve({ ...ended.end(), items: [] } as T);
              } catch {
                reject(notAList(where));
              }
              return;
            }
            const body = text;
            text = "";
            if (ok) {
              try {
                const value = JSON.parse(body) as unknown;
                if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not an object");
                resolve(value as T);
              } catch {
                reject(new KubeApiError(-1, "the API server answered 2xx with something that is not a JSON object", where));
              }
              return;
            }
            let message = "";
            let reason: string | undefined;
            try {
              const s = JSON.parse(body) as { message?: unknown; reason?: unknown };
              if (typeof s.message === "string") message = s.message;
              if (typeof s.reason === "string") reason = s.reason;
            } catch {
              // not a Status object: report the status code only, never the raw body
            }
            if (!message && status === 401) message = "Unauthorized";
            const retryAfter = res.headers["retry-after"];
            const retryAfterSeconds = parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
            reject(
              new KubeApiError(status, scrub(message), {
                ...where,
                ...(reason ? { reason } : {}),
                ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
              }),
            );
          });
        },
      );
      if (Number.isFinite(deadline.at)) deadline.signal.addEventListener("abort", onDeadline, { once: true });
      req.on("error", (error) => reject(toError(error, where)));
      req.end(payload);
    });
  }

  const toError = (error: unknown, where: { verb: KubeVerb; resource: KubeResource; namespace?: string }): KubeApiError =>
    error instanceof KubeApiError ? error : transportError(error, base.origin, where);

  const query = (o: ListOptions): string => {
    const q = new URLSearchParams({ limit: String(o.limit) });
    if (o.labelSelector) q.set("labelSelector", o.labelSelector);
    if (o.fieldSelector) q.set("fieldSelector", o.fieldSelector);
    if (o.continue) q.set("continue", o.continue);
    return `?${q.toString()}`;
  };
  const list = async <T>(
    path: string,
    o: ListOptions,
    where: { verb: KubeVerb; resource: KubeResource; namespace?: string },
    onItem?: (item: T) => void,
  ): Promise<ListPage<T>> => {
    const body = await call<{ items?: T[]; metadata?: { continue?: string } } | null>(
      "GET",
      path + query(o),
      where,
      undefined,
      undefined,
      onItem as ((item: unknown) => void) | undefined,
    );
    // A 2xx answer that is not a list (e.g. `{}` from a misrouted proxy) must not read as "nothing there".
    if (typeof body !== "object" || body === null || !Array.isArray(body.items)) {
      throw notAList(where);
    }
    const next = body.metadata?.continue;
    return { items: body.items, ...(typeof next === "string" && next ? { continue: next } : {}) };
  };
  const readOrUndefined = async <T>(path: string, where: { verb: KubeVerb; resource: KubeResource; namespace?: string }): Promise<T | undefined> => {
    try {
      return await call<T>("GET", path, where);
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 404) return undefined;
      throw error;
    }
  };

  return {
    listNamespaces: (o, each) => list<KubeNamespace>("/api/v1/namespaces", o, { verb: "list", resource: "namespaces" }, each),
    listSecrets: (o, each) => list<KubeSecret>("/api/v1/secrets", o, { verb: "list", resource: "secrets" }, each),
    listNamespacedSecrets: (ns, o, each) =>
      list<KubeSecret>(`/api/v1/namespaces/${enc(ns)}/secrets`, o, { verb: "list", resource: "secrets", namespace: ns }, each),
    readSecret: (ns, name) =>
      readOrUndefined<KubeSecret>(`/api/v1/namespaces/${enc(ns)}/secrets/${enc(name)}`, { verb: "get", resource: "secrets", namespace: ns }),
    createSecret: (ns, body) =>
      call<KubeSecret>(
        "POST",
        `/api/v1/namespaces/${enc(ns)}/secrets`,
        { verb: "create", resource: "secrets", namespace: ns },
        { apiVersion: "v1", kind: "Secret", ...body },
      ),
    patchSecret: (ns, name, patch) =>
      call<KubeSecret>(
        "PATCH",
        `/api/v1/namespaces/${enc(ns)}/secrets/${enc(name)}`,
        { verb: "patch", resource: "secrets", namespace: ns },
        patch,
        MERGE_PATCH,
      ),
    listServiceAccounts: (o, each) => list<KubeServiceAccount>("/api/v1/serviceaccounts", o, { verb: "list", resource: "serviceaccounts" }, each),
    listNamespacedServiceAccounts: (ns, o, each) =>
      list<KubeServiceAccount>(`/api/v1/namespaces/${enc(ns)}/serviceaccounts`, o, { verb: "list", resource: "serviceaccounts", namespace: ns }, each),
    readServiceAccount: (ns, name) =>
      readOrUndefined<KubeServiceAccount>(`/api/v1/namespaces/${enc(ns)}/serviceaccounts/${enc(name)}`, {
        verb: "get",
        resource: "serviceaccounts",
        namespace: ns,
      }),
    patchServiceAccount: (ns, name, patch) =>
      call<KubeServiceAccount>(
        "PATCH",
        `/api/v1/namespaces/${enc(ns)}/serviceaccounts/${enc(name)}`,
        { verb: "patch", resource: "serviceaccounts", namespace: ns },
        patch,
        MERGE_PATCH,
      ),
    listExternalSecrets: (o, each) => list<KubeExternalSecret>(`${ESO_PATH}/externalsecrets`, o, { verb: "list", resource: "externalsecrets" }, each),
    patchExternalSecret: (ns, name, patch) =>
      call<KubeExternalSecret>(
        "PATCH",
        `${ESO_PATH}/namespaces/${enc(ns)}/externalsecrets/${enc(name)}`,
        { verb: "patch", resource: "externalsecrets", namespace: ns },
        patch,
        MERGE_PATCH,
      ),
    patchClusterExternalSecret: (name, patch) =>
      call<unknown>("PATCH", `${ESO_PATH}/clusterexternalsecrets/${enc(name)}`, { verb: "patch", resource: "clusterexternalsecrets" }, patch, MERGE_PATCH),
    listPods: (o, each) => list<KubePod>("/api/v1/pods", o, { verb: "list", resource: "pods" }, each),
    listEvents: (o, each) => list<KubeEvent>("/api/v1/events", o, { verb: "list", resource: "events" }, each),
    listNamespacedPods: (ns, o, each) => list<KubePod>(`/api/v1/namespaces/${enc(ns)}/pods`, o, { verb: "list", resource: "pods", namespace: ns }, each),
    listNamespacedEvents: (ns, o, each) =>
      list<KubeEvent>(`/api/v1/namespaces/${enc(ns)}/events`, o, { verb: "list", resource: "events", namespace: ns }, each),
    async close() {
      agent.destroy();
    },
  };
}
