/**
 * What the API server says about us, outside the KubeApi port (which holds only the requests the
 * product's work makes and RBAC must grant): the server version, who we are (SelfSubjectReview),
 * what we may do (SelfSubjectAccessReview) and which resources an API group serves (discovery).
 * Every authenticated user may make these requests (system:basic-user, system:discovery,
 * system:public-info-viewer), so they need no rule in infra/k8s/components/fallback/rbac.yaml — except the doctor's
 * reads of the product's admission policies and bindings by name, which rbac.yaml grants by
 * `resourceNames` (src/kube/rights.ts ADMISSION_POLICIES).
 * One request each through the product's HTTPS transport with the cluster CA, bounded by a total
 * timeout and the deadline; failures are {@link KubeApiError}s like the adapters' (never the
 * response body).
 */
import { NO_DEADLINE, type Deadline } from "../shared/deadline";
import { invalidAnswerProblem } from "../shared/problem";
import { scrub } from "../shared/redact-text";
import { httpsRequest } from "../transport/https";
import { KubeApiError, kubeTarget, type KubeConnection, type KubeResource, type KubeVerb } from "./types";

/** A review request may take this long in total (connection to last byte), never past the deadline. */
export const REVIEW_TIMEOUT_MS = 15_000;

export interface ReviewOptions {
  /** Total time of the request (default 15 s), never past the deadline. */
  timeoutMs?: number;
  deadline?: Deadline;
  /** The request's verb and resource, for its Problem's target (a read RBAC must grant). */
  where?: { verb: KubeVerb; resource: KubeResource };
}

/**
 * One GET or POST with a JSON answer, through the product's HTTPS transport (a total timeout,
 * not an idle one: a server that trickles its answer cannot hold the caller past it). A non-2xx
 * answer is a KubeApiError with the Status message (scrubbed).
 */
export function kubeJsonRequest(
  connection: KubeConnection,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
  options: ReviewOptions = {},
): Promise<unknown> {
  const base = new URL(connection.server);
  const target = kubeTarget({ ...options.where, url: base.origin });
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return httpsRequest(
    {
      base,
      method,
      path,
      headers: {
        authorization: `Bearer ${connection.token}`,
        accept: "application/json",
        "user-agent": "ecr-token-rotator",
        ...(payload !== undefined ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {}),
      },
      ...(payload !== undefined ? { body: payload } : {}),
      ...(connection.caData ? { ca: Buffer.from(connection.caData, "base64") } : {}),
      timeoutMs: options.timeoutMs ?? REVIEW_TIMEOUT_MS,
      deadline: options.deadline ?? NO_DEADLINE,
      target,
      what: `${method} ${path}`,
      toError: (problem) => new KubeApiError(problem),
    },
    (answer) => {
      let text = "";
      return {
        data: (chunk) => void (text += chunk),
        end: () => jsonAnswer(answer.status, text, base.origin),
      };
    },
  );
}

/** A review's answer: the JSON object of a 2xx, else a KubeApiError with the Status message. */
function jsonAnswer(status: number, text: string, url: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: status code only
  }
  if (status >= 200 && status < 300) {
    if (typeof parsed === "object" && parsed !== null) return parsed;
    throw new KubeApiError(invalidAnswerProblem(kubeTarget({ url }), "the API server answered 2xx with something that is not a JSON object"));
  }
  const s = (typeof parsed === "object" && parsed !== null ? parsed : {}) as { message?: unknown; reason?: unknown };
  const message = typeof s.message === "string" ? scrub(s.message) : status === 401 ? "Unauthorized" : "";
  throw new KubeApiError(status, message, { url, ...(typeof s.reason === "string" ? { reason: s.reason } : {}) });
}

/** `GET /version`: the server's `gitVersion` (e.g. `v1.34.4-eks-1234`). */
export async function serverVersion(connection: KubeConnection, options: ReviewOptions = {}): Promise<string> {
  const out = (await kubeJsonRequest(connection, "GET", "/version", undefined, options)) as { gitVersion?: unknown };
  return typeof out.gitVersion === "string" ? out.gitVersion : "unknown";
}

export interface AccessQuery {
  /** "" for the core group. */
  group: string;
  resource: string;
  verb: string;
  /** Absent: the right in every namespace (cluster-wide). */
  namespace?: string;
  /** One object's name (a right RBAC grants by `resourceNames`); absent: any name. */
  name?: string;
}

export interface AccessDecision {
  allowed: boolean;
  /** The authorizer's reason (RBAC names the binding that allows; a denial is usually silent). */
  reason?: string;
  evaluationError?: string;
}

/** `POST selfsubjectaccessreviews`: may the caller make this request? */
export async function selfSubjectAccessReview(connection: KubeConnection, query: AccessQuery, options: ReviewOptions = {}): Promise<AccessDecision> {
  const body = {
    apiVersion: "authorization.k8s.io/v1",
    kind: "SelfSubjectAccessReview",
    spec: {
      resourceAttributes: {
        group: query.group,
        resource: query.resource,
        verb: query.verb,
        ...(query.namespace ? { namespace: query.namespace } : {}),
        ...(query.name ? { name: query.name } : {}),
      },
    },
  };
  const out = (await kubeJsonRequest(connection, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body, options)) as {
    status?: { allowed?: unknown; reason?: unknown; evaluationError?: unknown };
  };
  const s = out.status ?? {};
  return {
    allowed: s.allowed === true,
    ...(typeof s.reason === "string" && s.reason ? { reason: scrub(s.reason) } : {}),
    ...(typeof s.evaluationError === "string" && s.evaluationError ? { evaluationError: scrub(s.evaluationError) } : {}),
  };
}

/** Discovery of one group version (`external-secrets.io/v1`): the resources it serves, or undefined when it is not served (404). */
export async function servedResources(connection: KubeConnection, groupVersion: string, options: ReviewOptions = {}): Promise<string[] | undefined> {
  try {
    const out = (await kubeJsonRequest(connection, "GET", `/apis/${groupVersion}`, undefined, options)) as { resources?: Array<{ name?: unknown }> };
    return (out.resources ?? []).map((r) => r.name).filter((n): n is string => typeof n === "string" && !n.includes("/"));
  } catch (error) {
    if (error instanceof KubeApiError && error.problem.kind === "not-found") return undefined;
    throw error;
  }
}

/** The admission objects the doctor reads by name (rbac.yaml grants `get` on their names only). */
export type AdmissionResource = "validatingadmissionpolicies" | "validatingadmissionpolicybindings";

/** What the doctor keeps of one: that it exists, and for a binding the policy it binds and its actions. */
export interface AdmissionObject {
  name: string;
  policyName?: string;
  validationActions?: string[];
}

/** The request of each read, as the RBAC test finds the requests the code makes. */
const ADMISSION_READS = {
  validatingadmissionpolicies: { verb: "get", resource: "validatingadmissionpolicies" },
  validatingadmissionpolicybindings: { verb: "get", resource: "validatingadmissionpolicybindings" },
} as const;

/** `GET` one ValidatingAdmissionPolicy or binding by name; undefined when there is none (404). */
export async function readAdmissionObject(
  connection: KubeConnection,
  resource: AdmissionResource,
  name: string,
  options: ReviewOptions = {},
): Promise<AdmissionObject | undefined> {
  const path = `/apis/admissionregistration.k8s.io/v1/${resource}/${encodeURIComponent(name)}`;
  try {
    const out = (await kubeJsonRequest(connection, "GET", path, undefined, { ...options, where: ADMISSION_READS[resource] })) as {
      spec?: { policyName?: unknown; validationActions?: unknown };
    };
    const spec = out.spec ?? {};
    return {
      name,
      ...(typeof spec.policyName === "string" ? { policyName: spec.policyName } : {}),
      ...(Array.isArray(spec.validationActions) ? { validationActions: spec.validationActions.filter((a): a is string => typeof a === "string") } : {}),
    };
  } catch (error) {
    if (error instanceof KubeApiError && error.problem.kind === "not-found") return undefined;
    throw error;
  }
}
