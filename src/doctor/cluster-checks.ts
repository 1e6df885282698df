/**
 * The per-cluster half of the doctor (read-only): for each selected cluster, in this order,
 *   cluster reachable <c>       DescribeCluster (or the configured endpoint) + the EKS token + GET /version
 *   cluster identity <c>        SelfSubjectReview: who the cluster says the product is
 *   cluster rbac <c> <verb> <resource>   one SelfSubjectAccessReview per right (src/kube/rights.ts)
 *   cluster eso-crds <c>        external-secrets.io/v1 served (or the fallback covers its absence)
 *   cluster externalsecrets <c> the ExternalSecrets reading the product's secrets: synced?
 *   cluster oldest-token <c>    the oldest ECR token in the target namespaces' pull Secrets
 * Every cluster yields every line: a cluster that cannot be reached (or refuses the token) has
 * the rest `skip`ped with why; work the deadline leaves fails as not verified. Clusters are checked
 * KUBE_CLUSTER_CONCURRENCY at a time; lines keep the configured order. Nothing here writes.
 */
import type { ClusterConfig } from "../config/config";
import { defaultAccess, forEachCluster } from "../clusters/step";
import { openKubeApi } from "../kube/open";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "../kube/retry";
import { selfSubjectAccessReview, serverVersion, servedResources } from "../kube/reviews";
import type { KubeApi, KubeConnection } from "../kube/types";
import { selfSubjectReview } from "../kube/whoami";
import { selectClusters } from "../request/cluster-selection";
import { DEADLINE_REASON, isDeadlineExceeded, type Deadline } from "../shared/deadline";
import { describeError } from "../shared/errors";
import { LIST_PAGE_SIZE } from "../shared/names";
import { scrubSecrets } from "../shared/redact";
import { deadlineCheck } from "./check";
import { checkName, fail, skip, UNREACHABLE, type ClusterCheckContext, type ClusterChecksDeps, type ClusterProbe } from "./cluster-context";
import { identity, reachable } from "./door-checks";
import { esoCrdsCheck, externalSecretsCheck } from "./eso-checks";
import { rbacCheckNames, rbacChecks } from "./rbac-checks";
import { oldestTokenCheck } from "./token-checks";
import type { ClusterChecks, ClusterChecksInput, DoctorCheck } from "./types";

export type { ClusterChecksDeps, ClusterProbe, DoctorConnection } from "./cluster-context";

/** Keep-alive sockets of a client opened for the checks (their GETs run 8 at a time). */
const SOCKETS = 8;
/** A doctor answers quickly: fewer, shorter retries than a heal's. */
const DOCTOR_RETRY: RetryPolicy = { ...DEFAULT_RETRY_POLICY, maxAttempts: 3, maxDelayMs: 1_000, maxRetryAfterMs: 3_000 };

/** Every line of one cluster, in order (the same names whatever happens). */
export function clusterCheckNames(label: string): string[] {
  return [
    checkName.reachable(label),
    checkName.identity(label),
    ...rbacCheckNames(label),
    checkName.esoCrds(label),
    checkName.externalSecrets(label),
    checkName.oldestToken(label),
  ];
}

export function createClusterChecks(deps: ClusterChecksDeps = {}): ClusterChecks {
  const access = deps.access ?? defaultAccess;
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
      checkCluster(input, cluster, labelOf(cluster), access, deps),
    );
    // A second line behind construction: a token registered while checking never leaves.
    return perCluster.flat().map((c) => ({ ...c, detail: scrubSecrets(c.detail), ...(c.fix !== undefined ? { fix: scrubSecrets(c.fix) } : {}) }));
  };
}

/** The doctor's cluster checks with the product's own connection path and clients. */
export const clusterChecks: ClusterChecks = createClusterChecks({});

async function checkCluster(
  input: ClusterChecksInput,
  cluster: ClusterConfig,
  label: string,
  access: NonNullable<ClusterChecksDeps["access"]>,
  deps: ClusterChecksDeps,
): Promise<DoctorCheck[]> {
  const { deadline } = input;
  const lines = new Map<string, DoctorCheck>();
  const put = (...checks: DoctorCheck[]) => checks.forEach((c) => lines.set(c.name, c));
  /** Why the lines not reached are skipped. */
  let rest: string = DEADLINE_REASON;
  let api: KubeApi | undefined;
  let opened = false;
  try {
    deadline.check(`cluster ${label}`);
    const openProbe = deps.probe ?? httpProbe;
    const reached = await reachable(cluster, label, access, openProbe, deadline);
    put(reached.check);
    if (!reached.connection || !reached.probe || !reached.answered) {
      rest = UNREACHABLE;
      return ordered(label, lines, rest);
    }
    const { connection, probe } = reached;

    const who = await identity(probe, cluster, label, connection);
    put(who.check);
    if (who.refused) {
      rest = `the cluster refused the token (see ${checkName.identity(label)})`;
      return ordered(label, lines, rest);
    }

    if (deps.openApi) api = await deps.openApi(connection, deadline);
    else {
      api = await openKubeApi(connection, { client: input.config.kubernetes.client, maxSockets: SOCKETS, deadline });
      opened = true;
    }
    const policy: RetryPolicy = { ...DOCTOR_RETRY, ...deps.retry };
    const ctx: ClusterCheckContext = {
      config: input.config,
      cluster,
      label,
      connection,
      api,
      probe,
      ...(who.subject ? { subject: who.subject } : {}),
      paging: { limit: deps.pageSize ?? LIST_PAGE_SIZE, policy, hooks: { deadline, ...(deps.sleep ? { sleep: deps.sleep } : {}) } },
      policy,
      deadline,
      tokenNow: input.tokenNow,
    };
    put(...(await rbacChecks(ctx)));
    deadline.check("the ESO checks");
    const eso = await esoCrdsCheck(ctx);
    put(eso.check);
    deadline.check("the ExternalSecrets check");
    put(await externalSecretsCheck(ctx, eso.served));
    deadline.check("the pull Secrets check");
    put(await oldestTokenCheck(ctx));
  } catch (error) {
    if (!isDeadlineExceeded(error)) {
      // Not a verdict on any line: the next line not reached fails with it, the rest skip.
      const next = clusterCheckNames(label).find((n) => !lines.has(n));
      if (next) put(fail(next, `the check could not run: ${describeError(error)}`, "run the doctor again; if it persists, report it with this line"));
      rest = `not checked after an error (${next ?? "the cluster"})`;
    }
  } finally {
    if (opened) await api?.close?.()?.catch(() => undefined);
  }
  return ordered(label, lines, rest);
}

/** The cluster's lines in their fixed order; a line not reached is skipped with `why`. */
function ordered(label: string, lines: Map<string, DoctorCheck>, why: string): DoctorCheck[] {
  // A line the deadline left is failed like the AWS half's (not verified, and the run fails).
  return clusterCheckNames(label).map((name) => lines.get(name) ?? (why === DEADLINE_REASON ? deadlineCheck(name) : skip(name, why)));
}

function httpProbe(connection: KubeConnection, deadline: Deadline): ClusterProbe {
  const options = { deadline };
  return {
    version: () => serverVersion(connection, options),
    whoami: () => selfSubjectReview(connection, options),
    can: (query) => selfSubjectAccessReview(connection, query, options),
    served: (groupVersion) => servedResources(connection, groupVersion, options),
  };
}
