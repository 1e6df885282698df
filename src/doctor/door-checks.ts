/**
 * The cluster's door: `cluster reachable <c>` (the connection, then one GET /version) and
 * `cluster identity <c>` (SelfSubjectReview). What they find decides whether the other lines of
 * the cluster can be checked at all.
 */
import type { ClusterConfig } from "../config/config";
import { KubeApiError, type KubeConnection } from "../kube/types";
import type { SelfSubject } from "../kube/whoami";
import { isDeadlineExceeded, type Deadline } from "../shared/deadline";
import { describeError, EksConnectionError } from "../shared/errors";
import { UNAUTHORIZED_CAUSES } from "../shared/next-step";
import { hostOfUrl as hostOf, networkHint, unresolvableHint, type Problem } from "../shared/problem";
import { rememberSecret } from "../shared/redact";
import { checkName, fail, pass, PRODUCT_GROUP, type ClusterChecksDeps, type ClusterProbe, type DoctorConnection } from "./cluster-context";
import type { DoctorCheck } from "./types";

/**
 * `cluster reachable`: the connection (DescribeCluster or the configured endpoint, the EKS token)
 * and one GET /version. `answered`: the API server answered over TLS with the cluster's CA (a 401
 * or 403 to /version counts: the door is there, the identity line says who may pass).
 */
export async function reachable(
  cluster: ClusterConfig,
  label: string,
  access: NonNullable<ClusterChecksDeps["access"]>,
  openProbe: (connection: KubeConnection, deadline: Deadline) => ClusterProbe,
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
  const probe = openProbe(connection, deadline);
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
    if (error instanceof KubeApiError && error.problem.kind === "network") {
      return { check: networkFailure(name, error.problem, cluster, connection.server), connection, answered: false };
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

/**
 * `cluster reachable` when GET /version got no answer, by the network Problem's class: a name that
 * does not resolve (DNS: the VPC, a VPN, the endpoint override — never the CA), a certificate that
 * does not verify (caData), or an endpoint that does not answer (network path, security group).
 */
function networkFailure(name: string, problem: Problem & { kind: "network" }, cluster: ClusterConfig, server: string): DoctorCheck {
  const url = problem.target.url ?? server;
  const host = hostOf(server);
  switch (problem.code) {
    case "ENOTFOUND":
      return fail(
        name,
        unresolvableHint(url),
        `make ${host} resolve where the product runs: a private endpoint resolves only inside the cluster's VPC (attach the function to it; from a laptop, a VPN into it), or set endpoint for ${cluster.name} in EKS_CLUSTERS to an address that resolves here`,
      );
    case "TLS":
      return fail(
        name,
        `the TLS connection to ${host} failed (${problem.errno ?? "TLS"}): a CA that does not match the endpoint, or something else answering there`,
        `check caData in EKS_CLUSTERS (it must be the cluster's own CA: aws eks describe-cluster --name ${cluster.name} --region ${cluster.region} --query cluster.certificateAuthority.data), or drop it so DescribeCluster supplies it`,
      );
    case "ECONNREFUSED":
    case "ETIMEDOUT":
    case "ECONNRESET":
    case "other":
      return fail(
        name,
        networkHint(problem),
        `make ${host} reachable from where the product runs: a private endpoint needs the function in the cluster's VPC (or a VPN from a laptop), and the cluster security group must allow 443 from it; or correct the endpoint in EKS_CLUSTERS`,
      );
  }
}

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
export async function identity(
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
