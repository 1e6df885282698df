/**
 * What the per-cluster doctor checks share: what a check is (a {@link ClusterCheck}: its lines'
 * names, what it needs, how it runs), the state of one cluster's checklist as it runs, the
 * check lines' names and constructors, the probe (reviews and discovery, outside the KubeApi
 * port), and how a failed read is described.
 */
import type { ClusterConfig, Config } from "../config/config";
import type { ClusterAccess, ClusterConnection } from "../fleet/access";
import type { ClusterSession } from "../fleet/session";
import type { AccessDecision, AccessQuery, AdmissionObject, AdmissionResource } from "../kube/reviews";
import type { RetryPolicy } from "../kube/retry";
import { KubeApiError, type KubeApi } from "../kube/types";
import type { SelfSubject } from "../kube/whoami";
import type { Deadline } from "../shared/deadline";
import { describeError } from "../shared/errors";
import { networkHint } from "../shared/problem-text";
import type { ClusterChecksInput, DoctorCheck } from "./types";

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
  /** One ValidatingAdmissionPolicy or binding by name (rbac.yaml grants `get` on the product's only); undefined when absent. */
  admission(resource: AdmissionResource, name: string): Promise<AdmissionObject | undefined>;
}

export interface ClusterChecksDeps {
  /** How to reach a cluster; default: the run's own (fleet/access.ts: DescribeCluster or the configured endpoint, the EKS token, roleArn). */
  access?: ClusterAccess;
  /** The API the LISTs and GETs use; default: opened by the cluster session (KUBE_CLIENT) and closed after the cluster. */
  openApi?: (connection: ClusterConnection, deadline: Deadline) => Promise<KubeApi>;
  /** The reviews and discovery; default: kube/reviews.ts over node:https. */
  probe?: (connection: ClusterConnection, deadline: Deadline) => ClusterProbe;
  retry?: Partial<RetryPolicy>;
  sleep?: (ms: number) => Promise<void>;
  /** Page size of the LISTs (default LIST_PAGE_SIZE, src/shared/names.ts). */
  pageSize?: number;
}

/** Everything the checks of one reachable cluster that accepts the token share: its session, and what the door found. */
export interface ClusterCheckContext extends ClusterSession {
  config: Config;
  cluster: ClusterConfig;
  /** The cluster as check names and commands call it (`region:name` when two selected clusters share a name). */
  label: string;
  probe: ClusterProbe;
  /** Who the cluster says we are (undefined when SelfSubjectReview could not tell). */
  subject?: SelfSubject;
  tokenNow: () => Date;
}

/**
 * What a check needs before it can run, in the order they are met; a check whose need is not
 * met is skipped with that need's reason (see NEED_UNMET in cluster-checks.ts):
 * - `cluster`: nothing but the cluster's configuration (the check that reaches it);
 * - `door`: the API server answered (`run.door`);
 * - `token`: and the cluster accepted the product's token (`run.accepted`);
 * - `session`: and the cluster session is open (`run.session`: the API, paging, retries).
 */
export type ClusterNeed = "cluster" | "door" | "token" | "session";

/** The state of one cluster's checklist as its checks run, in order: what each found, for those after it. */
export interface ClusterRun {
  input: ClusterChecksInput;
  cluster: ClusterConfig;
  label: string;
  deps: ClusterChecksDeps;
  /** Set by `cluster reachable` once the API server answered. */
  door?: { connection: ClusterConnection; probe: ClusterProbe };
  /** Set by `cluster identity` unless the cluster refused the token. */
  accepted?: { subject?: SelfSubject };
  /** Opened before the first check that needs `session`. */
  session?: ClusterCheckContext;
  /** Set by `cluster eso-crds`: whether the cluster serves ESO's API (for `cluster externalsecrets`). */
  esoServed?: EsoServed;
}

/** What the eso-crds line found, for the externalsecrets line. */
export type EsoServed = "served" | "not-served" | "unknown";

/** One doctor check of a cluster: one entry of CLUSTER_CHECKS (cluster-checks.ts). */
export interface ClusterCheck {
  /** Its lines' names, in order: the same whatever happens (a skipped check has the same lines). */
  names: (label: string) => string[];
  needs: ClusterNeed;
  /** Its lines (each named by `names`); a deadline it meets is thrown, not turned into a line. */
  run: (run: ClusterRun) => Promise<DoctorCheck[]>;
}

/** The group infra/k8s/components/fallback/rbac.yaml binds the ClusterRole to (the access entry's kubernetes-groups). */
export const PRODUCT_GROUP = "ecr-token-rotator";

export const checkName = {
  reachable: (c: string) => `cluster reachable ${c}`,
  identity: (c: string) => `cluster identity ${c}`,
  rbac: (c: string, verb: string, resource: string) => `cluster rbac ${c} ${verb} ${resource}`,
  esoCrds: (c: string) => `cluster eso-crds ${c}`,
  externalSecrets: (c: string) => `cluster externalsecrets ${c}`,
  oldestToken: (c: string) => `cluster oldest-token ${c}`,
  admissionPolicy: (c: string) => `cluster admission-policy ${c}`,
  optionalRole: (c: string, id: string) => `cluster optional-role ${c} ${id}`,
};

export { fail, pass, skip } from "./check";

/** The skip reasons of the lines after a cluster's door stayed shut. */
export const UNREACHABLE = "cluster unreachable";

/** `kubectl apply` of the product's RBAC, the fix of every missing right. */
export const APPLY_RBAC = "kubectl apply -f infra/k8s/components/fallback/rbac.yaml -f infra/k8s/components/fallback/admission-policy.yaml";

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
    return `grant ${right} (infra/k8s/components/fallback/rbac.yaml): ${APPLY_RBAC}; see the cluster rbac lines`;
  }
  return "run the doctor again; if it persists, check the API server's health (kubectl get --raw /readyz)";
}

/** At most `max` items, then "and N more". */
export function listSome(items: readonly string[], max = 5): string {
  return items.length <= max ? items.join(", ") : `${items.slice(0, max).join(", ")} and ${items.length - max} more`;
}
