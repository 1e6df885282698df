/**
 * The cluster's door: `cluster reachable <c>` (the connection, then one GET /version) and
 * `cluster identity <c>` (SelfSubjectReview). What they find decides whether the other lines of
 * the cluster can be checked at all.
 */
import type { ClusterConfig } from "../config/config";
import { connectCluster, defaultAccess, type ClusterConnection } from "../fleet/access";
import { readAdmissionObject, selfSubjectAccessReview, serverVersion, servedResources } from "../kube/reviews";
import { KubeApiError } from "../kube/types";
import { selfSubjectReview } from "../kube/whoami";
import { isDeadlineExceeded, type Deadline } from "../shared/deadline";
import { describeError, EksConnectionError } from "../shared/errors";
import { UNAUTHORIZED_CAUSES } from "../shared/next-step";
import type { Problem } from "../shared/problem";
import { hostOfUrl as hostOf, networkHint, unresolvableHint } from "../shared/problem-text";
import { checkName, fail, pass, PRODUCT_GROUP, type ClusterCheck, type ClusterProbe, type ClusterRun } from "./cluster-context";
import type { DoctorCheck } from "./types";

/** `cluster reachable <c>`: needs nothing but the configuration; opens the door for the checks after it. */
export const reachableCheck: ClusterCheck = {
  names: (label) => [checkName.reachable(label)],
  needs: "cluster",
  run: async (run) => [await reachable(run)],
};

/** `cluster identity <c>`: needs the door; a 401 leaves the token refused (the checks after it are skipped). */
export const identityCheck: ClusterCheck = {
  names: (label) => [checkName.identity(label)],
  needs: "door",
  run: async (run) => [await identity(run)],
};

/**
 * `cluster reachable`: the connection (DescribeCluster or the configured endpoint, the EKS token)
 * and one GET /version. Sets `run.door` when the API server answered over TLS with the cluster's
 * CA (a 401 or 403 to /version counts: the door is there, the identity line says who may pass).
 */
async function reachable(run: ClusterRun): Promise<DoctorCheck> {
  const { cluster, deps } = run;
  const { deadline } = run.input;
  const name = checkName.reachable(run.label);
  let connection: ClusterConnection;
  try {
    connection = await connectCluster(deps.access ?? defaultAccess, cluster, deadline);
  } catch (error) {
    if (isDeadlineExceeded(error)) throw error;
    return fail(name, describeError(error), accessFix(error, cluster));
  }
  const host = hostOf(connection.server);
  const probe = (deps.probe ?? httpProbe)(connection, deadline);
  try {
    const version = await probe.version();
    run.door = { connection, probe };
    return pass(name, `endpoint ${host}, Kubernetes ${version}`);
  } catch (error) {
    if (isDeadlineExceeded(error)) throw error;
    if (error instanceof KubeApiError && (error.status === 401 || error.status === 403)) {
      run.door = { connection, probe };
      return pass(name, `endpoint ${host} answers (its version is not shown to this identity: HTTP ${error.status})`);
    }
    if (error instanceof KubeApiError && error.problem.kind === "network") return networkFailure(name, error.problem, cluster, connection.server);
    return fail(
      name,
      `endpoint ${host} answered GET /version with: ${describeError(error)}`,
      "check the API server's health (kubectl get --raw /readyz), then run the doctor again",
    );
  }
}

/** The reviews and discovery over node:https (kube/reviews.ts), each ending by the deadline. */
function httpProbe(connection: ClusterConnection, deadline: Deadline): ClusterProbe {
  const options = { deadline };
  return {
    version: () => serverVersion(connection, options),
    whoami: () => selfSubjectReview(connection, options),
    can: (query) => selfSubjectAccessReview(connection, query, options),
    served: (groupVersion) => servedResources(connection, groupVersion, options),
    admission: (resource, name) => readAdmissionObject(connection, resource, name, options),
  };
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

/** `cluster identity`: SelfSubjectReview; sets `run.accepted` unless a 401 says the cluster does not know the token. */
async function identity(run: ClusterRun): Promise<DoctorCheck> {
  const { probe, connection } = run.door!;
  const name = checkName.identity(run.label);
  try {
    const me = await probe.whoami();
    run.accepted = { subject: me };
    const arn = me.extra.arn?.[0];
    const groups = me.groups.filter((g) => g !== "system:authenticated");
    const missing = me.groups.includes(PRODUCT_GROUP)
      ? ""
      : ` — not in the group ${PRODUCT_GROUP} that infra/k8s/components/fallback/rbac.yaml binds (see the rbac lines)`;
    return pass(
      name,
      `the cluster knows the product as "${me.username}"${arn ? ` (IAM ${arn})` : ""}, groups: ${groups.length > 0 ? groups.join(", ") : "none"}${missing}`,
    );
  } catch (error) {
    if (isDeadlineExceeded(error)) throw error;
    if (error instanceof KubeApiError && error.status === 401) return refused(name, run.cluster, connection);
    run.accepted = {};
    if (error instanceof KubeApiError && error.status === 403) {
      return pass(name, "the cluster accepts the product's token (SelfSubjectReview is forbidden to it, so who it is cannot be shown)");
    }
    return fail(
      name,
      `SelfSubjectReview failed: ${describeError(error)}`,
      "run the doctor again; if it persists, check the API server's health (kubectl get --raw /readyz)",
    );
  }
}

/** The identity line of a cluster that refused the token: no access entry (or aws-auth mapping) for the role. */
function refused(name: string, cluster: ClusterConfig, connection: ClusterConnection): DoctorCheck {
  const id = connection.identity;
  const principal = id?.roleArn ?? "<the function's role ARN: stack output RotateFunctionRoleArn>";
  return fail(
    name,
    `the cluster refused the product's token (401 Unauthorized)${id ? ` of ${id.assumedRoleArn} (assumed from ${id.roleArn})` : ""}: no access entry or aws-auth mapping for its IAM role`,
    `aws eks create-access-entry --cluster-name ${cluster.name} --region ${cluster.region} --principal-arn ${principal} --kubernetes-groups ${PRODUCT_GROUP}` +
      ` (map the role ARN, not the session ARN; or add it to the aws-auth ConfigMap with group ${PRODUCT_GROUP}); if it is mapped: ${UNAUTHORIZED_CAUSES.replace(/^likely causes: [^;]*; /, "")}`,
  );
}
