/**
 * What the API server says about us, outside the KubeApi port (which holds only the requests the
 * product's work makes and RBAC must grant): the server version, who we are (SelfSubjectReview),
 * what we may do (SelfSubjectAccessReview) and which resources an API group serves (discovery).
 * Every authenticated user may make these requests (system:basic-user, system:discovery,
 * system:public-info-viewer), so they need no rule in infra/k8s/rbac.yaml.
 * One request each over node:https with the cluster CA, bounded by a timeout and the deadline;
 * failures are {@link KubeApiError}s like the adapters' (never the response body).
 */
import { request } from "node:https";
import { DeadlineExceededError, NO_DEADLINE, type Deadline } from "../shared/deadline";
import { scrub } from "../shared/redact-text";
import { transportError } from "./retry";
import { KubeApiError, type KubeConnection } from "./types";

export interface ReviewOptions {
  /** Total time of the request (default 15 s), never past the deadline. */
  timeoutMs?: number;
  deadline?: Deadline;
}

/** One GET or POST with a JSON answer; a non-2xx answer is a KubeApiError with the Status message (scrubbed). */
export function kubeJsonRequest(
  connection: KubeConnection,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
  options: ReviewOptions = {},
): Promise<unknown> {
  const base = new URL(connection.server);
  const url = base.origin;
  const deadline = options.deadline ?? NO_DEADLINE;
  if (deadline.expired()) return Promise.reject(new DeadlineExceededError(`${method} ${path}`));
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const where = { url };
  let destroy = (): void => undefined;
  const work = new Promise<unknown>((resolve, reject) => {
    const req = request(
      {
        protocol: "https:",
        hostname: base.hostname,
        port: base.port || 443,
        method,
        path: base.pathname.replace(/\/+$/, "") + path,
        ...(connection.caData ? { ca: Buffer.from(connection.caData, "base64") } : {}),
        headers: {
          authorization: `Bearer ${connection.token}`,
          accept: "application/json",
          "user-agent": "ecr-token-rotator",
          ...(payload !== undefined ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (error) => reject(transportError(error, url)));
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          let parsed: unknown;
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          } catch {
            // not JSON: status code only
          }
          if (status >= 200 && status < 300) {
            if (typeof parsed === "object" && parsed !== null) resolve(parsed);
            else reject(new KubeApiError(-1, "the API server answered 2xx with something that is not a JSON object", where));
            return;
          }
          const s = (typeof parsed === "object" && parsed !== null ? parsed : {}) as { message?: unknown; reason?: unknown };
          const message = typeof s.message === "string" ? scrub(s.message) : status === 401 ? "Unauthorized" : "";
          reject(new KubeApiError(status, message, { ...where, ...(typeof s.reason === "string" ? { reason: s.reason } : {}) }));
        });
      },
    );
    req.setTimeout(deadline.budget(options.timeoutMs ?? 15_000), () => req.destroy(Object.assign(new Error("request timed out"), { code: "ETIMEDOUT" })));
    req.on("error", (error) => reject(transportError(error, url)));
    destroy = () => req.destroy();
    req.end(payload);
  });
  // A request the deadline cuts is destroyed, not left to its timeout (it would hold the socket, and a CLI's exit).
  return deadline.race(work, `${method} ${path}`, () => destroy());
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
    if (error instanceof KubeApiError && error.status === 404) return undefined;
    throw error;
  }
}
