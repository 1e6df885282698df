/** Kubernetes API failures as one-line, secret-free reasons for the report, derived from their Problem. */
import { kubeRequestReason } from "../shared/problem-text";
import { problemOf } from "./retry";
import { kubeTarget, type KubeResource, type KubeVerb } from "./types";

/**
 * A one-line, secret-free reason: the class and HTTP status, the missing permission for a 403
 * (verb, resource, namespace), and the API server's Status message scrubbed of `secrets`. The
 * request named is the caller's (`verb`, `resource`, `namespace`), whatever the error carries.
 */
export function describeFailure(error: unknown, verb: KubeVerb, resource: KubeResource, namespace: string | undefined, secrets: readonly string[]): string {
  const where = kubeTarget({ verb, resource, ...(namespace !== undefined ? { namespace } : {}) });
  const problem = problemOf(error, where);
  return kubeRequestReason({ ...problem, target: { ...problem.target, ...where } }, secrets);
}
