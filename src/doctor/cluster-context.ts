/**
 * What the per-cluster doctor checks share: the check lines' names and constructors, the probe
 * (reviews and discovery, outside the KubeApi port), the reads' paging and retries, and how a
 * failed read is described.
 */
import type { ClusterConfig, Config } from "../config/config";
import type { Paging } from "../kube/paging";
import type { AccessDecision, AccessQuery } from "../kube/reviews";
import type { RetryPolicy } from "../kube/retry";
import { KubeApiError, type KubeApi, type KubeConnection } from "../kube/types";
import type { SelfSubject } from "../kube/whoami";
import type { Deadline } from "../shared/deadline";
import { describeError } from "../shared/errors";
import { networkHint } from "../shared/problem";
import type { DoctorCheck } from "./types";

/** The requests outside the KubeApi port that every authenticated identity may make. */
export interface ClusterProbe {
  /** `GET /version`: the server's gitVersion. */
  version(): Promise<string>;
  /** SelfSubjectReview. */
  whoami(): Promise<SelfSubject>;
  /** SelfSubjectAccessReview. */
  can(query: AccessQuery): Promise<AccessDecision>;
  /** Discovery: the resources a group version serves, undefined when it is not served. */
  served(groupVersion: string): Promise<string[] | undefined>;
}

/** A connection, and for a cluster in another account the assumed role it authenticates as. */
export type DoctorConnection = KubeConnection & { identity?: { roleArn: string; assumedRoleArn: string } };

export interface ClusterChecksDeps {
  /** How to reach a cluster; default: the run's own (DescribeCluster or the configured endpoint, the EKS token, roleArn). */
  access?: (cluster: ClusterConfig, deadline: Deadline) => Promise<DoctorConnection>;
  /** The API the LISTs and GETs use; default: opened by kube/open.ts (KUBE_CLIENT) and closed after the cluster. */
  openApi?: (connection: KubeConnection, deadline: Deadline) => Promise<KubeApi>;
  /** The reviews and discovery; default: kube/reviews.ts over node:https. */
  probe?: (connection: KubeConnection, deadline: Deadline) => ClusterProbe;
  retry?: Partial<RetryPolicy>;
  sleep?: (ms: number) => Promise<void>;
  /** Page size of the LISTs (default LIST_PAGE_SIZE, src/shared/names.ts). */
  pageSize?: number;
}

/** Everything the checks of one reachable cluster share. */
export interface ClusterCheckContext {
  config: Config;
  cluster: ClusterConfig;
  /** The cluster as check names and commands call it (`region:name` when two selected clusters share a name). */
  label: string;
  connection: DoctorConnection;
  api: KubeApi;
  probe: ClusterProbe;
  /** Who the cluster says we are (undefined when SelfSubjectReview could not tell). */
  subject?: SelfSubject;
  paging: Paging;
  policy: RetryPolicy;
  deadline: Deadline;
  tokenNow: () => Date;
}

/** The group infra/k8s/rbac.yaml binds the ClusterRole to (the access entry's kubernetes-groups). */
export const PRODUCT_GROUP = "ecr-token-rotator";

export const checkName = {
  reachable: (c: string) => `cluster reachable ${c}`,
  identity: (c: string) => `cluster identity ${c}`,
  rbac: (c: string, verb: string, resource: string) => `cluster rbac ${c} ${verb} ${resource}`,
  esoCrds: (c: string) => `cluster eso-crds ${c}`,
  externalSecrets: (c: string) => `cluster externalsecrets ${c}`,
  oldestToken: (c: string) => `cluster oldest-token ${c}`,
};

export { fail, pass, skip } from "./check";

/** The skip reasons of the lines after a cluster's door stayed shut. */
export const UNREACHABLE = "cluster unreachable";

/** `kubectl apply` of the product's RBAC, the fix of every missing right. */
export const APPLY_RBAC = "kubectl apply -f infra/k8s/rbac.yaml -f infra/k8s/admission-policy.yaml";

/** Why a read failed, in one line (forbidden names the right; a network failure where it tried). */
export function readFailure(error: unknown, what: string): string {
  if (error instanceof KubeApiError) {
    if (error.status === 403) return `forbidden (403) to ${what}: ${error.message}`;
    if (error.status === 401) return `unauthorized (401) to ${what}: the cluster refused the token`;
    if (error.problem.kind === "network") return networkHint(error.problem);
    return `${what} failed: ${error.message}`;
  }
  return `${what} failed: ${describeError(error)}`;
}

/** The fix of a failed read: the missing right (e.g. "list on externalsecrets") for a 403, else a retry. */
export function readFix(error: unknown, right: string): string {
  if (error instanceof KubeApiError && error.status === 403) {
    return `grant ${right} (infra/k8s/rbac.yaml): ${APPLY_RBAC}; see the cluster rbac lines`;
  }
  return "run the doctor again; if it persists, check the API server's health (kubectl get --raw /readyz)";
}

/** At most `max` items, then "and N more". */
export function listSome(items: readonly string[], max = 5): string {
  return items.length <= max ? items.join(", ") : `${items.slice(0, max).join(", ")} and ${items.length - max} more`;
}
