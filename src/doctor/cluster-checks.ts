/**
 * The per-cluster half of the doctor (read-only): for each selected cluster, in this order,
 *   cluster reachable <c>       DescribeCluster (or the configured endpoint) + the EKS token + GET /version
 *   cluster identity <c>        SelfSubjectReview: who the cluster says the product is
 *   cluster rbac <c> <verb> <resource>   one SelfSubjectAccessReview per right (src/kube/rights.ts)
 *   cluster eso-crds <c>        external-secrets.io/v1 served (or the fallback covers its absence)
 *   cluster externalsecrets <c> the ExternalSecrets reading the product's secrets: synced?
 *   cluster oldest-token <c>    the oldest ECR token in the target namespaces' pull Secrets
 * Every cluster yields every line: a cluster that cannot be reached (or refuses the token) has
 * the rest `skip`ped with why, and so has work the deadline leaves. Clusters are checked
 * KUBE_CLUSTER_CONCURRENCY at a time; lines keep the configured order. Nothing here writes.
 */
import type { ClusterConfig } from "../config/config";
import { defaultAccess, forEachCluster } from "../clusters/step";
import { openKubeApi } from "../kube/open";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "../kube/retry";
import { selfSubjectAccessReview, serverVersion, servedResources } from "../kube/reviews";
import { KubeApiError, type KubeApi, type KubeConnection } from "../kube/types";
import { selfSubjectReview, type SelfSubject } from "../kube/whoami";
import { selectClusters } from "../request/cluster-selection";
import { DEADLINE_REASON, isDeadlineExceeded, type Deadline } from "../shared/deadline";
import { describeError, EksConnectionError } from "../shared/errors";
import { UNAUTHORIZED_CAUSES, unreachableHint } from "../shared/next-step";
import { rememberSecret, scrubSecrets } from "../shared/redact";
import {
  checkName,
  fail,
  pass,
  PRODUCT_GROUP,
  skip,
  UNREACHABLE,
  type ClusterCheckContext,
  type ClusterChecksDeps,
  type ClusterProbe,
  type DoctorConnection,
} from "./cluster-context";
import { esoCrdsCheck, externalSecretsCheck } from "./eso-checks";
import { rbacCheckNames, rbacChecks } from "./rbac-checks";
import { oldestTokenCheck } from "./token-checks";
import type { ClusterChecks, ClusterChecksInput, DoctorCheck } from "./types";

export type { ClusterChecksDeps, ClusterProbe, DoctorConnection } from "./cluster-context";

/** Keep-alive sockets of a client opened for the checks (their GETs run 8 at a time). */
const SOCKETS = 8;
/** A doctor answers quickly: fewer, shorter retries than a heal's. */
const DOCTOR_RETRY: RetryPolicy = { ...DEFAULT_RETRY_POLICY, maxAttempts: 3, maxDelayMs: 1_000, maxRetryAfterMs: 3_000 };
/** ExternalSecret, namespace and Secret LISTs: pages of 200 (a Secret object is a few KB). */
const PAGE_SIZE = 200;

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
    const reached = await reachable(cluster, label, access, deps, deadline);
    put(reached.check);
    if (!reached.connection || !reached.probe) {
      rest = UNREACHABLE;
      return ordered(label, lines, rest);
    }
    const { connection, probe } = reached;
    if (!reached.answered) {
      rest = UNREACHABLE;
      return ordered(label, lines, rest);
    }

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
      paging: { limit: deps.pageSize ?? PAGE_SIZE, policy, hooks: { deadline, ...(deps.sleep ? { sleep: deps.sleep } : {}) } },
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
  return clusterCheckNames(label).map((name) => lines.get(name) ?? skip(name, why));
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

/**
 * `cluster reachable`: the connection (DescribeCluster or the configured endpoint, the EKS token)
 * and one GET /version. `answered`: the API server answered over TLS with the cluster's CA (a 401
 * or 403 to /version counts: the door is there, the identity line says who may pass).
 */
async function reachable(
  cluster: ClusterConfig,
  label: string,
  access: NonNullable<ClusterChecksDeps["access"]>,
  deps: ClusterChecksDeps,
  deadline: Deadline,
): Promise<{ check: DoctorCheck; connection?: DoctorConnection; probe?: ClusterProbe; answered: boolean }> {
  const name = checkName.reachable(label);
  let connection: DoctorConnection;
  try {
    connection = await access(cluster, deadline);
    rememberSecret(connection.token);
  } catch (error) {
    if (isDeadlineExceeded(error)) throw error;
    return { check: fail(name, describeError(error), accessFix(error, cluster)), answered: false };
  }
  const host = hostOf(connection.server);
  const probe = (deps.probe ?? httpProbe)(connection, deadline);
  try {
    const version = await probe.version();
    return { check: pass(name, `endpoint ${host}, Kubernetes ${version}`), connection, probe, answered: true };
  } catch (error) {
    if (isDeadlineExceeded(error)) throw error;
    if (error instanceof KubeApiError && (error.status === 401 || error.status === 403)) {
      return {
        check: pass(name, `endpoint ${host} answers (its version is not shown to this identity: HTTP ${error.status})`),
        connection,
        probe,
        answered: true,
      };
    }
    if (error instanceof KubeApiError && error.status === 0) {
      return {
        check: fail(
          name,
          unreachableHint(error.details.url ?? connection.server, error.details.networkCode),
          `make ${host} reachable from where the product runs: a private endpoint needs the function in the cluster's VPC (or a VPN from a laptop), and the cluster security group must allow 443 from it; or correct the endpoint in EKS_CLUSTERS`,
        ),
        connection,
        answered: false,
      };
    }
    if (error instanceof KubeApiError && error.status === -1) {
      return {
        check: fail(
          name,
          `${error.message}: the TLS connection to ${host} failed (a CA that does not match the endpoint, or something else answering there)`,
          `check caData in EKS_CLUSTERS (it must be the cluster's own CA: aws eks describe-cluster --name ${cluster.name} --region ${cluster.region} --query cluster.certificateAuthority.data), or drop it so DescribeCluster supplies it`,
        ),
        connection,
        answered: false,
      };
    }
    return {
      check: fail(
        name,
        `endpoint ${host} answered GET /version with: ${describeError(error)}`,
        "check the API server's health (kubectl get --raw /readyz), then run the doctor again",
      ),
      connection,
      answered: false,
    };
  }
}

/** The endpoint's host[:port] as written (URL would lower-case EKS's upper-case endpoint names). */
const hostOf = (server: string): string => server.replace(/^[a-z]+:\/\//i, "").replace(/\/.*$/, "");

/** What to change when the connection itself (DescribeCluster, AssumeRole, credentials) failed. */
function accessFix(error: unknown, cluster: ClusterConfig): string {
  const where = `--name ${cluster.name} --region ${cluster.region}`;
  const role = cluster.assumeRole?.roleArn;
  if (error instanceof EksConnectionError) {
    switch (error.problem) {
      case "not-found":
        return `check the cluster's name and region in EKS_CLUSTERS (aws eks list-clusters --region ${cluster.region})`;
      case "access-denied":
        return role
          ? `the role ${role} must trust the function's role (with the configured ExternalId) and allow eks:DescribeCluster on the cluster (docs/fleet.md)`
          : `allow eks:DescribeCluster on the cluster to the function's role (aws eks describe-cluster ${where} must succeed as that role)`;
      case "credentials":
        return "give the process AWS credentials (the Lambda's role; on a laptop AWS_PROFILE or aws sso login)";
      case "not-active":
        return `wait until the cluster is ACTIVE (aws eks describe-cluster ${where} --query cluster.status), or remove it from EKS_CLUSTERS`;
      case "incomplete":
        return `set endpoint and caData for ${cluster.name} in EKS_CLUSTERS, or fix the cluster's endpoint access`;
      default:
        return `run the doctor again; if it persists, check that aws eks describe-cluster ${where} succeeds from here`;
    }
  }
  return `check that aws eks describe-cluster ${where} succeeds from here, then run the doctor again`;
}

/** `cluster identity`: SelfSubjectReview. A 401 means no mapping: the rest cannot be asked. */
async function identity(
  probe: ClusterProbe,
  cluster: ClusterConfig,
  label: string,
  connection: DoctorConnection,
): Promise<{ check: DoctorCheck; subject?: SelfSubject; refused: boolean }> {
  const name = checkName.identity(label);
  try {
    const me = await probe.whoami();
    const arn = me.extra.arn?.[0];
    const groups = me.groups.filter((g) => g !== "system:authenticated");
    const missing = me.groups.includes(PRODUCT_GROUP) ? "" : ` — not in the group ${PRODUCT_GROUP} that infra/k8s/rbac.yaml binds (see the rbac lines)`;
    return {
      check: pass(
        name,
        `the cluster knows the product as "${me.username}"${arn ? ` (IAM ${arn})` : ""}, groups: ${groups.length > 0 ? groups.join(", ") : "none"}${missing}`,
      ),
      subject: me,
      refused: false,
    };
  } catch (error) {
    if (isDeadlineExceeded(error)) throw error;
    if (error instanceof KubeApiError && error.status === 401) {
      const id = connection.identity;
      const principal = id?.roleArn ?? "<the function's role ARN: stack output RotateFunctionRoleArn>";
      return {
        check: fail(
          name,
          `the cluster refused the product's token (401 Unauthorized)${id ? ` of ${id.assumedRoleArn} (assumed from ${id.roleArn})` : ""}: no access entry or aws-auth mapping for its IAM role`,
          `aws eks create-access-entry --cluster-name ${cluster.name} --region ${cluster.region} --principal-arn ${principal} --kubernetes-groups ${PRODUCT_GROUP}` +
            ` (map the role ARN, not the session ARN; or add it to the aws-auth ConfigMap with group ${PRODUCT_GROUP}); if it is mapped: ${UNAUTHORIZED_CAUSES.replace(/^likely causes: [^;]*; /, "")}`,
        ),
        refused: true,
      };
    }
    if (error instanceof KubeApiError && error.status === 403) {
      return {
        check: pass(name, "the cluster accepts the product's token (SelfSubjectReview is forbidden to it, so who it is cannot be shown)"),
        refused: false,
      };
    }
    return {
      check: fail(
        name,
        `SelfSubjectReview failed: ${describeError(error)}`,
        "run the doctor again; if it persists, check the API server's health (kubectl get --raw /readyz)",
      ),
      refused: false,
    };
  }
}
