/** Kubernetes API failures as one-line, secret-free reasons for the report. */
import { scrub } from "../shared/redact-text";
import { UNAUTHORIZED_CAUSES, unreachableHint } from "../shared/next-step";
import { classify } from "./retry";
import { KubeApiError, type KubeResource, type KubeVerb } from "./types";
import { DEADLINE_REASON, isDeadlineExceeded } from "../shared/deadline";

/**
 * A one-line, secret-free reason: the HTTP status, the missing permission for a 403 (verb,
 * resource, namespace), and the API server's Status message scrubbed.
 */
export function describeFailure(error: unknown, verb: KubeVerb, resource: KubeResource, namespace: string | undefined, secrets: readonly string[]): string {
  const where = namespace ? ` in namespace "${namespace}"` : " cluster-wide";
  if (isDeadlineExceeded(error)) return `${DEADLINE_REASON}: ${verb} ${resource}${where} not done before the invocation's deadline`;
  if (error instanceof KubeApiError) {
    const message = error.message ? scrub(error.message, secrets) : "";
    const suffix = message ? `: ${message}` : "";
    switch (error.status) {
      case 0:
        return `network error (${error.details.networkCode ?? "connection failed"}) on ${verb} ${resource}${where}, retries exhausted${error.details.url ? `: ${unreachableHint(error.details.url, error.details.networkCode)}` : ""}`;
      case 401:
        return `unauthorized (401): the bearer token was rejected on ${verb} ${resource}${where}; ${UNAUTHORIZED_CAUSES}`;
      case 403:
        return `forbidden (403): missing RBAC permission "${verb}" on "${resource}"${where}${suffix}`;
      case 404:
        return namespace && (verb === "create" || verb === "patch") && /namespaces? "?[^"\s]*"? not found/.test(message)
          ? `namespace ${namespace} not found`
          : `not found (404) on ${verb} ${resource}${where}${suffix}`;
      case 409:
        return `conflict (409) on ${verb} ${resource}${where}, retries exhausted${suffix}`;
      case 429:
        return `throttled (429) on ${verb} ${resource}${where}, retries exhausted${suffix}`;
      default:
        return `HTTP ${error.status} on ${verb} ${resource}${where}${error.status >= 500 ? ", retries exhausted" : ""}${suffix}`;
    }
  }
  const code = classify(error).kind === "network" ? " (network error, retries exhausted)" : "";
  const text = error instanceof Error ? error.message : String(error);
  return `${verb} ${resource}${where} failed${code}: ${scrub(text, secrets)}`;
}
