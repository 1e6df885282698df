/**
 * The narrow Kubernetes API the apply engine needs. Plain JSON objects in, plain JSON objects
 * out: `src/kube/http-client.ts` implements it over node:https (the default), `src/kube/client.ts`
 * with `@kubernetes/client-node` (imported lazily), `test/support/kube-fake-api.ts` in memory for tests.
 * Every method is exactly one HTTP request. Writes resolve to nothing useful (the engine never
 * reads the object a write returns; adapters may skip parsing it).
 *
 * Errors: implementations throw {@link KubeApiError} (never an error carrying a response body).
 */
import { httpProblem, transportProblem, type CarriesProblem, type Problem, type ProblemTarget } from "../shared/problem";
import { problemReason } from "../shared/problem-text";

/** How to reach one cluster's API server. */
export interface KubeConnection {
  /** API server URL, e.g. the EKS endpoint `https://XXXX.gr7.us-east-1.eks.amazonaws.com`. */
  server: string;
  /** Base64 PEM of the cluster CA (EKS `certificateAuthority.data`). */
  caData: string;
  /** Bearer token (an EKS token `k8s-aws-v1.…`, refreshed by the caller). */
  token: string;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: Array<{ apiVersion?: string; kind?: string; name?: string; uid?: string; controller?: boolean }>;
}

export interface KubeNamespace {
  metadata: ObjectMeta;
  status?: { phase?: string };
}

export interface KubeSecret {
  metadata: ObjectMeta;
  type?: string;
  data?: Record<string, string>;
}

export interface KubeServiceAccount {
  metadata: ObjectMeta;
  imagePullSecrets?: Array<{ name?: string }>;
}

/** An `external-secrets.io/v1` ExternalSecret (its metadata, the Secret it writes, what it reads, whether ESO synced it). */
export interface KubeExternalSecret {
  metadata: ObjectMeta;
  spec?: {
    /** `spec.target.name`; ESO writes a Secret named like the ExternalSecret when absent. */
    target?: { name?: string };
    /** The provider's secrets it reads (the doctor: which ExternalSecrets read the product's secret). */
    data?: Array<{ remoteRef?: { key?: string } }>;
    dataFrom?: Array<{ extract?: { key?: string } }>;
  };
  /** ESO's verdict: the `Ready` condition says whether the last sync succeeded. */
  status?: { conditions?: Array<{ type?: string; status?: string; reason?: string; message?: string }> };
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  limit: number;
  continue?: string;
}

export interface ListPage<T> {
  /** The page's items; empty when the adapter handed them to `onItem` instead (see KubeApi). */
  items: T[];
  /** The `metadata.continue` token of the list, absent on the last page. */
  continue?: string;
}

/** The parts of a Pod a diagnosis reads. */
export interface KubeContainerStatus {
  name: string;
  image?: string;
  state?: { waiting?: { reason?: string; message?: string } };
}

export interface KubePod {
  metadata: ObjectMeta & { uid?: string };
  spec?: {
    serviceAccountName?: string;
    imagePullSecrets?: Array<{ name?: string }>;
    containers?: Array<{ name: string; image?: string }>;
    initContainers?: Array<{ name: string; image?: string }>;
  };
  status?: { phase?: string; containerStatuses?: KubeContainerStatus[]; initContainerStatuses?: KubeContainerStatus[] };
}

/** A core/v1 Event (only what a diagnosis reads). */
export interface KubeEvent {
  metadata: ObjectMeta;
  involvedObject?: { kind?: string; namespace?: string; name?: string; uid?: string; fieldPath?: string };
  reason?: string;
  message?: string;
  /** `source.component`: who wrote it (the product's own carry `ecr-token-rotator`). */
  source?: { component?: string };
  lastTimestamp?: string | null;
  eventTime?: string | null;
  count?: number;
}

/** A JSON merge patch (RFC 7386) body. */
export type MergePatch = Record<string, unknown>;

/**
 * The LIST methods take an optional `onItem`: an adapter may hand each item to it as it arrives
 * (node:https does, so a page is never held whole) and resolve with an empty `items`; one that
 * does not returns the items as usual. Items handed on belong to a page that may still fail.
 */
export interface KubeApi {
  listNamespaces(options: ListOptions, onItem?: (item: KubeNamespace) => void): Promise<ListPage<KubeNamespace>>;
  /** Secrets across all namespaces (`GET /api/v1/secrets`). */
  listSecrets(options: ListOptions, onItem?: (item: KubeSecret) => void): Promise<ListPage<KubeSecret>>;
  /** Secrets of one namespace (fallback when the cluster-wide list is forbidden). */
  listNamespacedSecrets(namespace: string, options: ListOptions, onItem?: (item: KubeSecret) => void): Promise<ListPage<KubeSecret>>;
  /** `undefined` when the Secret does not exist (404). */
  readSecret(namespace: string, name: string): Promise<KubeSecret | undefined>;
  createSecret(namespace: string, body: KubeSecret): Promise<unknown>;
  patchSecret(namespace: string, name: string, patch: MergePatch): Promise<unknown>;
  /** ServiceAccounts across all namespaces. */
  listServiceAccounts(options: ListOptions, onItem?: (item: KubeServiceAccount) => void): Promise<ListPage<KubeServiceAccount>>;
  listNamespacedServiceAccounts(namespace: string, options: ListOptions, onItem?: (item: KubeServiceAccount) => void): Promise<ListPage<KubeServiceAccount>>;
  readServiceAccount(namespace: string, name: string): Promise<KubeServiceAccount | undefined>;
  patchServiceAccount(namespace: string, name: string, patch: MergePatch): Promise<unknown>;
  /** `external-secrets.io/v1` ExternalSecrets across all namespaces. */
  listExternalSecrets(options: ListOptions, onItem?: (item: KubeExternalSecret) => void): Promise<ListPage<KubeExternalSecret>>;
  patchExternalSecret(namespace: string, name: string, patch: MergePatch): Promise<unknown>;
  /** `external-secrets.io/v1` ClusterExternalSecret (cluster-scoped), a JSON merge patch. */
  patchClusterExternalSecret(name: string, patch: MergePatch): Promise<unknown>;
  /** Pods across all namespaces (`GET /api/v1/pods`). */
  listPods(options: ListOptions, onItem?: (item: KubePod) => void): Promise<ListPage<KubePod>>;
  /** core/v1 Events across all namespaces (`GET /api/v1/events`), e.g. `fieldSelector=involvedObject.kind=Pod,reason=Failed`. */
  listEvents(options: ListOptions, onItem?: (item: KubeEvent) => void): Promise<ListPage<KubeEvent>>;
  /** Pods of one namespace (a diagnosis under namespace-confined RBAC). */
  listNamespacedPods(namespace: string, options: ListOptions, onItem?: (item: KubePod) => void): Promise<ListPage<KubePod>>;
  /** Events of one namespace (a diagnosis under namespace-confined RBAC). */
  listNamespacedEvents(namespace: string, options: ListOptions, onItem?: (item: KubeEvent) => void): Promise<ListPage<KubeEvent>>;
  /**
   * Evicts a pod (`POST …/pods/{name}/eviction`, policy/v1): the API server checks its
   * PodDisruptionBudgets (a 429 when one refuses) and deletes it; its controller replaces it.
   * With `uid`, only that pod (a replacement of the same name is left alone: 409).
   */
  evictPod(namespace: string, name: string, uid?: string): Promise<unknown>;
  /** Creates a core/v1 Event (the product's Events on stuck pods and written pull Secrets). */
  createEvent(namespace: string, body: KubeEventBody): Promise<unknown>;
  /** Merge-patches a core/v1 Event (a repeat: its count and lastTimestamp). */
  patchEvent(namespace: string, name: string, patch: MergePatch): Promise<unknown>;
  /** Releases connections. Optional for fakes. */
  close?(): Promise<void>;
}

/** A core/v1 Event as the product writes it (legacy fields: count, first/lastTimestamp; no eventTime). */
export interface KubeEventBody {
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  involvedObject: { kind: string; apiVersion: string; namespace: string; name: string; uid?: string };
  type: "Normal" | "Warning";
  reason: string;
  message: string;
  source: { component: string };
  reportingComponent: string;
  reportingInstance: string;
  firstTimestamp: string;
  lastTimestamp: string;
  count: number;
}

export type KubeVerb = "get" | "list" | "create" | "patch";
export type KubeResource =
  | "namespaces"
  | "secrets"
  | "serviceaccounts"
  | "externalsecrets"
  | "clusterexternalsecrets"
  | "pods"
  | "events"
  | "validatingadmissionpolicies"
  | "validatingadmissionpolicybindings"

  /** The eviction subresource (`create` only): the optional restart of stuck pods. */
  | "pods/eviction";

/** Where a request went, as the adapters know it. */
export interface KubeRequestWhere {
  verb?: KubeVerb;
  resource?: KubeResource;
  namespace?: string;
  /** The API server's URL (scrubbed when it enters a Problem). */
  url?: string;
}

/**
 * A failed Kubernetes API request: its {@link Problem} says what went wrong (the HTTP class and
 * status, or the network class when no answer came, or an answer that is not what was asked) and
 * where. `message` is the API server's Status message (scrubbed of anything that looks like
 * credential material) or a line derived from the Problem, never a raw response body.
 */
export class KubeApiError extends Error implements CarriesProblem {
  override readonly name = "KubeApiError";
  readonly problem: Problem;
  /** An HTTP answer (`status` 100–599) described by its Status fields, or a Problem built elsewhere. */
  constructor(problem: Problem);
  constructor(status: number, message: string, details?: { reason?: string; retryAfterSeconds?: number; about?: string } & KubeRequestWhere);
  constructor(
    problemOrStatus: Problem | number,
    message = "",
    details: { reason?: string; retryAfterSeconds?: number; about?: string } & KubeRequestWhere = {},
  ) {
    const problem =
      typeof problemOrStatus === "number"
        ? httpProblem(problemOrStatus, kubeTarget(details), {
            detail: message,
            ...(details.reason !== undefined ? { statusReason: details.reason } : {}),
            ...(details.about !== undefined ? { about: details.about } : {}),
            ...(details.retryAfterSeconds !== undefined ? { retryAfterSeconds: details.retryAfterSeconds } : {}),
          })
        : problemOrStatus;
    // Never an empty message: a network error says which URL it could not reach and why.
    super(problem.detail || problemReason(problem));
    this.problem = problem;
  }

  /** A request that got no answer, by its transport error code (`ECONNRESET`, `ENOTFOUND`, a TLS code…). */
  static network(errno: string, where: KubeRequestWhere = {}): KubeApiError {
    return new KubeApiError(transportProblem({ code: errno }, kubeTarget(where)));
  }

  /** The HTTP status of the answer; undefined when no answer came (network, deadline) or the answer was not usable. */
  get status(): number | undefined {
    return "status" in this.problem ? this.problem.status : undefined;
  }

  /** The request and the answer's Status fields (a view of the Problem). */
  get details(): { reason?: string; retryAfterSeconds?: number; networkCode?: string; url?: string } & KubeRequestWhere {
    const p = this.problem;
    const t = p.target;
    return {
      ...(t.verb !== undefined ? { verb: t.verb as KubeVerb } : {}),
      ...(t.resource !== undefined ? { resource: t.resource as KubeResource } : {}),
      ...(t.namespace !== undefined ? { namespace: t.namespace } : {}),
      ...(t.url !== undefined ? { url: t.url } : {}),
      ...("statusReason" in p && p.statusReason !== undefined ? { reason: p.statusReason } : {}),
      ...("retryAfterSeconds" in p && p.retryAfterSeconds !== undefined ? { retryAfterSeconds: p.retryAfterSeconds } : {}),
      ...(p.kind === "network" ? { networkCode: p.errno ?? p.code } : {}),
    };
  }
}

/** The Problem target of a Kubernetes request. */
export function kubeTarget(where: KubeRequestWhere): ProblemTarget {
  return {
    service: "kubernetes",
    ...(where.verb !== undefined ? { verb: where.verb } : {}),
    ...(where.resource !== undefined ? { resource: where.resource } : {}),
    ...(where.namespace !== undefined ? { namespace: where.namespace } : {}),
    ...(where.url !== undefined ? { url: where.url } : {}),
  };
}

/** A policy/v1 Eviction body; with `uid`, a precondition that it is still the pod the diagnosis read. */
export function evictionBody(namespace: string, name: string, uid: string | undefined): Record<string, unknown> {
  return {
    apiVersion: "policy/v1",
    kind: "Eviction",
    metadata: { name, namespace },
    ...(uid !== undefined ? { deleteOptions: { preconditions: { uid } } } : {}),
  };
}
