/**
 * The per-cluster half of the doctor (read-only): for each selected cluster, the lines of
 * CLUSTER_CHECKS below, in its order (each check one entry: its lines' names, what it needs,
 * how it runs):
 *   cluster reachable <c>       DescribeCluster (or the configured endpoint) + the EKS token + GET /version
 *   cluster identity <c>        SelfSubjectReview: who the cluster says the product is
 *   cluster rbac <c> <verb> <resource>   one SelfSubjectAccessReview per right (src/kube/rights.ts)
 *   cluster admission-policy <c> the admission policies of infra/k8s/components/fallback/admission-policy.yaml and their bindings
 *   cluster optional-role <c> <id>  each optional role (rights.ts OPTIONAL_ROLES): bound or not
 *   cluster eso-crds <c>        external-secrets.io/v1 served (or the fallback covers its absence)
 *   cluster externalsecrets <c> the ExternalSecrets reading the product's secrets: synced?
 *   cluster oldest-token <c>    the oldest ECR token in the target namespaces' pull Secrets
 * Every cluster yields every line: a check whose need is not met (the cluster cannot be reached,
 * or refuses the token) has its lines `skip`ped with why; the cluster session (fleet/session.ts)
 * is opened before the first check that needs it; work the deadline leaves fails as not verified. Clusters are checked
 * KUBE_CLUSTER_CONCURRENCY at a time; lines keep the configured order. Nothing here writes.
 */
import type { ClusterConfig } from "../config/config";
import { forEachCluster } from "../fleet/each";
import { withSession } from "../fleet/session";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "../kube/retry";
import { selectClusters } from "../request/cluster-selection";
import { DEADLINE_REASON, isDeadlineExceeded } from "../shared/deadline";
import { describeError } from "../shared/errors";
import { scrubSecrets } from "../shared/redact";
import { deadlineCheck } from "./check";
import { checkName, fail, skip, UNREACHABLE, type ClusterCheck, type ClusterChecksDeps, type ClusterNeed, type ClusterRun } from "./cluster-context";
import { admissionPolicyCheck, optionalRolesCheck } from "./admission-checks";
import { identityCheck, reachableCheck } from "./door-checks";
import { esoCrdsCheck, externalSecretsCheck } from "./eso-checks";
import { rbacCheck } from "./rbac-checks";
import { oldestTokenCheck } from "./token-checks";
import type { ClusterChecks, ClusterChecksInput, DoctorCheck } from "./types";

export type { ClusterChecksDeps, ClusterProbe } from "./cluster-context";

/**
 * The cluster checks, in the order their lines are reported. Adding a check: a file exporting
 * a {@link ClusterCheck} (its lines' names, what it needs, how it runs), and its entry here.
 */
export const CLUSTER_CHECKS: readonly ClusterCheck[] = [
  reachableCheck,
  identityCheck,
  rbacCheck,
  admissionPolicyCheck,
  optionalRolesCheck,
  esoCrdsCheck,
  externalSecretsCheck,
  oldestTokenCheck,
];

/** Keep-alive sockets of a client opened for the checks (their GETs run 8 at a time). */
const SOCKETS = 8;
/** A doctor answers quickly: fewer, shorter retries than a heal's. */
const DOCTOR_RETRY: RetryPolicy = { ...DEFAULT_RETRY_POLICY, maxAttempts: 3, maxDelayMs: 1_000, maxRetryAfterMs: 3_000 };

/** Every line of one cluster, in order (the same names whatever happens). */
export function clusterCheckNames(label: string): string[] {
  return CLUSTER_CHECKS.flatMap((check) => check.names(label));
}

export function createClusterChecks(deps: ClusterChecksDeps = {}): ClusterChecks {
  return async (input: ClusterChecksInput): Promise<DoctorCheck[]> => {
    const { config } = input;
    const clusters = selectClusters(config.kubernetes.clusters, {
      action: "diagnose",
      trigger: { kind: "manual", via: "doctor" },
      dryRun: true,
      force: false,
      ...(input.clusters !== undefined ? { clusters: input.clusters } : {}),
    });
    const labelOf = (c: ClusterConfig): string => (clusters.filter((o) => o.name === c.name).length > 1 ? `${c.region}:${c.name}` : c.name);
    const perCluster = await forEachCluster(clusters, config.kubernetes.clusterConcurrency, (cluster) =>
      checkCluster({ input, cluster, label: labelOf(cluster), deps }),
    );
    // A second line behind construction: a token registered while checking never leaves.
    return perCluster.flat().map((c) => ({ ...c, detail: scrubSecrets(c.detail), ...(c.fix !== undefined ? { fix: scrubSecrets(c.fix) } : {}) }));
  };
}

/** The doctor's cluster checks with the product's own connection path and clients. */
export const clusterChecks: ClusterChecks = createClusterChecks({});

/** Why a check is skipped when what it needs is not there (a need met implies those before it). */
function unmet(run: ClusterRun, need: ClusterNeed): string | undefined {
  if (need === "cluster") return undefined;
  if (run.door === undefined) return UNREACHABLE;
  if (need !== "door" && run.accepted === undefined) return `the cluster refused the token (see ${checkName.identity(run.label)})`;
  return undefined;
}

/** Every line of one cluster: CLUSTER_CHECKS in order, each run once what it needs is there. */
async function checkCluster(given: Omit<ClusterRun, "esoServed">): Promise<DoctorCheck[]> {
  const run: ClusterRun = { ...given };
  const lines = new Map<string, DoctorCheck>();
  /** Why the lines not reached are skipped. */
  let rest: string = DEADLINE_REASON;
  try {
    rest = (await runChecks(run, CLUSTER_CHECKS, lines)) ?? rest;
  } catch (error) {
    if (!isDeadlineExceeded(error)) {
      // Not a verdict on any line: the next line not reached fails with it, the rest skip.
      const next = clusterCheckNames(run.label).find((n) => !lines.has(n));
      if (next)
        lines.set(next, fail(next, `the check could not run: ${describeError(error)}`, "run the doctor again; if it persists, report it with this line"));
      rest = `not checked after an error (${next ?? "the cluster"})`;
    }
  }
  // A line the deadline left is failed like the AWS half's (not verified, and the run fails).
  return clusterCheckNames(run.label).map((name) => lines.get(name) ?? (rest === DEADLINE_REASON ? deadlineCheck(name) : skip(name, rest)));
}

/**
 * Runs `checks` in order into `lines`, until one's need is not met: returns that need's reason
 * (the skip reason of the lines left), or undefined when all ran. The cluster session is opened
 * before the first check that needs it, and closed after the last.
 */
async function runChecks(run: ClusterRun, checks: readonly ClusterCheck[], lines: Map<string, DoctorCheck>): Promise<string | undefined> {
  const { deadline } = run.input;
  for (const [index, check] of checks.entries()) {
    const why = unmet(run, check.needs);
    if (why !== undefined) return why;
    if (check.needs === "session" && run.session === undefined) return openSession(run, (opened) => runChecks(opened, checks.slice(index), lines));
    deadline.check(check.names(run.label)[0] ?? "a cluster check");
    for (const line of await check.run(run)) lines.set(line.name, line);
  }
  return undefined;
}

/** Opens the cluster's session (the API with the doctor's retry policy) for the checks that need it. */
function openSession<T>(run: ClusterRun, use: (run: ClusterRun) => Promise<T>): Promise<T> {
  const { deps, input } = run;
  const { connection, probe } = run.door!;
  const options = {
    client: input.config.kubernetes.client,
    maxSockets: SOCKETS,
    openApi: deps.openApi,
    base: DOCTOR_RETRY,
    retry: deps.retry,
    sleep: deps.sleep,
    pageSize: deps.pageSize,
    deadline: input.deadline,
  };
  return withSession(connection, options, (session) => {
    const subject = run.accepted?.subject;
    run.session = {
      ...session,
      config: input.config,
      cluster: run.cluster,
      label: run.label,
      probe,
      ...(subject ? { subject } : {}),
      tokenNow: input.tokenNow,
    };
    return use(run);
  });
}
