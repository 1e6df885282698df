/**
 * `KubeApi` over `node:https` (no dependency), through the product's one HTTPS transport
 * (src/transport/https.ts): one keep-alive pool trusting the cluster CA, a total timeout per
 * request bounded by the deadline, JSON in and out, merge patches with
 * `application/merge-patch+json`, LIST items streamed to `onItem`. Lighter than the client-node
 * adapter (./client) — no 1.4 MB client to load, far less garbage per request — which is what
 * keeps a 1,000-namespace heal inside its memory budget (docs/kube.md).
 */
import type { Agent } from "node:https";
import { NO_DEADLINE, type Deadline } from "../shared/deadline";
import { invalidAnswerProblem } from "../shared/problem";
import { httpsRequest, keepAliveAgent, type BodySink, type HttpsAnswer } from "../transport/https";
import { ListStream, NotAListError } from "./list-stream";
import { parseRetryAfter } from "./retry";
import {
  KubeApiError,
  kubeTarget,
  type KubeApi,
  type KubeConnection,
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
  type MergePatch,
  evictionBody,
} from "./types";

const MERGE_PATCH = "application/merge-patch+json";
const ESO_PATH = "/apis/external-secrets.io/v1";
/**
 * Total time one request may take, connection to last byte (a hung or trickling answer counts
 * as a network error and is retried); never more than the invocation's deadline leaves.
 */
export const KUBE_REQUEST_TIMEOUT_MS = 30_000;
/** Keep-alive sockets of one client unless told otherwise. */
const DEFAULT_MAX_SOCKETS = 32;
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

interface Where {
  verb: KubeVerb;
  resource: KubeResource;
  namespace?: string;
}

/** One request of the adapter. */
interface CallSpec {
  method: "GET" | "POST" | "PATCH";
  path: string;
  where: Where;
  body?: unknown;
  contentType?: string;
  /** A LIST's items, one by one as they arrive (the answer then resolves with an empty `items`). */
  onItem?: (item: unknown) => void;
}

/** What every request of one client shares. */
interface Session {
  base: URL;
  agent: Agent;
  token: string;
  timeoutMs: number;
  deadline: Deadline;
}

type Call = <T>(spec: CallSpec) => Promise<T>;

const enc = encodeURIComponent;

/** A 2xx answer that is not what was asked (not a list, not a JSON object): an invalid-answer Problem. */
const invalidAnswer = (where: Where, base: URL, detail: string): KubeApiError =>
  new KubeApiError(invalidAnswerProblem(kubeTarget({ ...where, url: base.origin }), detail));
const NOT_A_LIST = "the API server answered 2xx with something that is not a list (no items array)";
const NOT_AN_OBJECT = "the API server answered 2xx with something that is not a JSON object";

export function createHttpKubeApi(connection: KubeConnection, options: HttpKubeApiOptions = {}): KubeApi {
  const base = new URL(connection.server);
  if (base.protocol !== "https:") throw new Error(`the API server URL must be https, got ${base.protocol}`);
  const session: Session = {
    base,
    agent: keepAliveAgent({
      maxSockets: options.maxSockets ?? DEFAULT_MAX_SOCKETS,
      ...(connection.caData ? { ca: Buffer.from(connection.caData, "base64") } : {}),
    }),
    token: connection.token,
    timeoutMs: options.timeoutMs ?? KUBE_REQUEST_TIMEOUT_MS,
    deadline: options.deadline ?? NO_DEADLINE,
  };
  const call: Call = (spec) => send(session, spec);
  return {
    ...coreMethods(call),
    ...esoMethods(call),
    close() {
      session.agent.destroy();
      return Promise.resolve();
    },
  };
}

/** One request through the transport; a 2xx body is parsed only for reads (writes resolve to undefined). */
function send<T>(session: Session, spec: CallSpec): Promise<T> {
  const payload = spec.body === undefined ? undefined : JSON.stringify(spec.body);
  const read = spec.method === "GET";
  return httpsRequest<T>(
    {
      base: session.base,
      method: spec.method,
      path: spec.path,
      headers: {
        // A write's answer is only its metadata (~400 bytes instead of the whole object with
        // its docker config): less to send, to receive, and no secret material in transit back.
        accept: read ? "application/json" : WRITE_ACCEPT,
        authorization: `Bearer ${session.token}`,
        "user-agent": USER_AGENT,
        ...(payload !== undefined ? { "content-type": spec.contentType ?? "application/json", "content-length": Buffer.byteLength(payload) } : {}),
      },
      ...(payload !== undefined ? { body: payload } : {}),
      agent: session.agent,
      timeoutMs: session.timeoutMs,
      deadline: session.deadline,
      target: kubeTarget({ ...spec.where, url: session.base.origin }),
      what: `${spec.where.verb} ${spec.where.resource}`,
      toError: (problem) => new KubeApiError(problem),
    },
    (answer) => sinkFor<T>(answer, spec, session.base),
  );
}

/** How an answer's body is read: a Status for a failure, nothing for a write, a stream for a LIST, else one JSON object. */
function sinkFor<T>(answer: HttpsAnswer, spec: CallSpec, base: URL): BodySink<T> {
  const ok = answer.status >= 200 && answer.status < 300;
  if (!ok) return statusSink(answer, spec.where);
  // A successful write's echo of the object (with the docker config) is not needed.
  if (spec.method !== "GET") return { end: () => undefined as T };
  if (spec.onItem) return listSink(spec.onItem, spec.where, base) as BodySink<T>;
  return objectSink(spec.where, base) as BodySink<T>;
}

/** Decoded as it arrives, on the JS heap: no Buffer.concat copy of a multi-MB page outside it. */
function textSink<T>(end: (text: string) => T): BodySink<T> {
  let text = "";
  return {
    data: (chunk) => void (text += chunk),
    end: () => {
      const body = text;
      text = "";
      return end(body);
    },
  };
}

function objectSink(where: Where, base: URL): BodySink<unknown> {
  return textSink((body) => {
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      throw invalidAnswer(where, base, NOT_AN_OBJECT);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalidAnswer(where, base, NOT_AN_OBJECT);
    return value;
  });
}

/** A LIST's items handed on one by one (./list-stream); resolves with the rest of the document and an empty `items`. */
function listSink(onItem: (item: unknown) => void, where: Where, base: URL): BodySink<unknown> {
  const stream = new ListStream<unknown>(onItem);
  const notAList = (error: unknown): unknown =>
    error instanceof NotAListError || error instanceof SyntaxError ? invalidAnswer(where, base, NOT_A_LIST) : error;
  return {
    data(chunk) {
      try {
        stream.feed(chunk);
      } catch (error) {
        // Not a LIST, or the consumer refused an item: stop reading.
        throw notAList(error);
      }
    },
    end() {
      try {
        return { ...stream.end(), items: [] };
      } catch (error) {
        throw notAList(error);
      }
    },
  };
}

/** A failed answer: its Status message, reason and details.kind, its Retry-After — never the raw body. */
function statusSink(answer: HttpsAnswer, where: Where): BodySink<never> {
  return textSink((body) => {
    let status: { message?: unknown; reason?: unknown; details?: { kind?: unknown } } = {};
    try {
      const parsed = JSON.parse(body) as unknown;
      if (typeof parsed === "object" && parsed !== null) status = parsed;
    } catch {
      // not a Status object: report the status code only, never the raw body
    }
    const message = typeof status.message === "string" ? status.message : answer.status === 401 ? "Unauthorized" : "";
    const retryAfterSeconds = parseRetryAfter(answer.headers["retry-after"]);
    throw new KubeApiError(answer.status, message, {
      ...where,
      ...(typeof status.reason === "string" ? { reason: status.reason } : {}),
      ...(typeof status.details?.kind === "string" ? { about: status.details.kind } : {}),
      ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
    });
  });
}

function query(o: ListOptions): string {
  const q = new URLSearchParams({ limit: String(o.limit) });
  if (o.labelSelector) q.set("labelSelector", o.labelSelector);
  if (o.fieldSelector) q.set("fieldSelector", o.fieldSelector);
  if (o.continue) q.set("continue", o.continue);
  return `?${q.toString()}`;
}

/** One LIST page; a 2xx answer that is not a list (e.g. `{}` from a misrouted proxy) must not read as "nothing there". */
async function list<T>(call: Call, path: string, o: ListOptions, where: Where, onItem?: (item: T) => void): Promise<ListPage<T>> {
  const body = await call<{ items?: T[]; metadata?: { continue?: string } } | null>({
    method: "GET",
    path: path + query(o),
    where,
    ...(onItem ? { onItem: onItem as (item: unknown) => void } : {}),
  });
  if (typeof body !== "object" || body === null || !Array.isArray(body.items)) {
    throw new KubeApiError(invalidAnswerProblem(kubeTarget(where), NOT_A_LIST));
  }
  const next = body.metadata?.continue;
  return { items: body.items, ...(typeof next === "string" && next ? { continue: next } : {}) };
}

async function readOrUndefined<T>(call: Call, path: string, where: Where): Promise<T | undefined> {
  try {
    return await call<T>({ method: "GET", path, where });
  } catch (error) {
    if (error instanceof KubeApiError && error.problem.kind === "not-found") return undefined;
    throw error;
  }
}

const patch = (call: Call, path: string, where: Where, body: MergePatch): Promise<unknown> =>
  call({ method: "PATCH", path, where, body, contentType: MERGE_PATCH });

const nsPath = (ns: string, rest: string): string => `/api/v1/namespaces/${enc(ns)}/${rest}`;

/** The core/v1 requests: namespaces, Secrets, ServiceAccounts, pods, Events. */
function coreMethods(call: Call): Omit<KubeApi, "listExternalSecrets" | "patchExternalSecret" | "patchClusterExternalSecret" | "close"> {
  const at = (verb: KubeVerb, resource: KubeResource, namespace?: string): Where => ({ verb, resource, ...(namespace !== undefined ? { namespace } : {}) });
  return {
    listNamespaces: (o, each) => list<KubeNamespace>(call, "/api/v1/namespaces", o, at("list", "namespaces"), each),
    listSecrets: (o, each) => list<KubeSecret>(call, "/api/v1/secrets", o, at("list", "secrets"), each),
    listNamespacedSecrets: (ns, o, each) => list<KubeSecret>(call, nsPath(ns, "secrets"), o, at("list", "secrets", ns), each),
    readSecret: (ns, name) => readOrUndefined<KubeSecret>(call, nsPath(ns, `secrets/${enc(name)}`), at("get", "secrets", ns)),
    createSecret: (ns, body) =>
      call({ method: "POST", path: nsPath(ns, "secrets"), where: at("create", "secrets", ns), body: { apiVersion: "v1", kind: "Secret", ...body } }),
    patchSecret: (ns, name, p) => patch(call, nsPath(ns, `secrets/${enc(name)}`), at("patch", "secrets", ns), p),
    listServiceAccounts: (o, each) => list<KubeServiceAccount>(call, "/api/v1/serviceaccounts", o, at("list", "serviceaccounts"), each),
    listNamespacedServiceAccounts: (ns, o, each) => list<KubeServiceAccount>(call, nsPath(ns, "serviceaccounts"), o, at("list", "serviceaccounts", ns), each),
    readServiceAccount: (ns, name) => readOrUndefined<KubeServiceAccount>(call, nsPath(ns, `serviceaccounts/${enc(name)}`), at("get", "serviceaccounts", ns)),
    patchServiceAccount: (ns, name, p) => patch(call, nsPath(ns, `serviceaccounts/${enc(name)}`), at("patch", "serviceaccounts", ns), p),
    listPods: (o, each) => list<KubePod>(call, "/api/v1/pods", o, at("list", "pods"), each),
    listEvents: (o, each) => list<KubeEvent>(call, "/api/v1/events", o, at("list", "events"), each),
    listNamespacedPods: (ns, o, each) => list<KubePod>(call, nsPath(ns, "pods"), o, at("list", "pods", ns), each),
    listNamespacedEvents: (ns, o, each) => list<KubeEvent>(call, nsPath(ns, "events"), o, at("list", "events", ns), each),
    ...podActionMethods(call),
  };
}

/** The requests of the optional pod restart (eviction) and of the product's Events. */
function podActionMethods(call: Call): Pick<KubeApi, "evictPod" | "createEvent" | "patchEvent"> {
  return {
    evictPod: (ns, name, uid) =>
      call({
        method: "POST",
        path: nsPath(ns, `pods/${enc(name)}/eviction`),
        where: { verb: "create", resource: "pods/eviction", namespace: ns },
        body: evictionBody(ns, name, uid),
      }),
    createEvent: (ns, body) =>
      call({
        method: "POST",
        path: nsPath(ns, "events"),
        where: { verb: "create", resource: "events", namespace: ns },
        body: { apiVersion: "v1", kind: "Event", ...body },
      }),
    patchEvent: (ns, name, p) => patch(call, nsPath(ns, `events/${enc(name)}`), { verb: "patch", resource: "events", namespace: ns }, p),
  };
}

/** The external-secrets.io/v1 requests. */
function esoMethods(call: Call): Pick<KubeApi, "listExternalSecrets" | "patchExternalSecret" | "patchClusterExternalSecret"> {
  return {
    listExternalSecrets: (o, each) => list<KubeExternalSecret>(call, `${ESO_PATH}/externalsecrets`, o, { verb: "list", resource: "externalsecrets" }, each),
    patchExternalSecret: (ns, name, p) =>
      patch(call, `${ESO_PATH}/namespaces/${enc(ns)}/externalsecrets/${enc(name)}`, { verb: "patch", resource: "externalsecrets", namespace: ns }, p),
    patchClusterExternalSecret: (name, p) =>
      patch(call, `${ESO_PATH}/clusterexternalsecrets/${enc(name)}`, { verb: "patch", resource: "clusterexternalsecrets" }, p),
  };
}
