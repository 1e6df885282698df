/**
 * How the product reaches one cluster: its connection (endpoint, CA, an EKS bearer token, and for
 * a cluster in another account the role assumed there), within the run's deadline. Heal,
 * diagnose and the doctor all reach a cluster through here.
 */
import type { ClusterConfig } from "../config/config";
import { assumedRoleCache } from "../eks/assume-role";
import { createEksCredentialsProvider, getAssumedClusterAccess, getClusterAccess, sdkDescribeCluster, type ClusterAccessDeps } from "../eks/connection";
import type { KubeConnection } from "../kube/types";
import type { Deadline } from "../shared/deadline";
import { rememberSecret } from "../shared/redact";

/** A connection, and for a cluster in another account the assumed role it authenticates as. */
export type ClusterConnection = KubeConnection & { identity?: { roleArn: string; assumedRoleArn: string } };

/** How to reach a cluster (tests inject one; default: {@link defaultAccess}). */
export type ClusterAccess = (cluster: ClusterConfig, deadline: Deadline) => Promise<ClusterConnection>;

/**
 * The default access: EKS DescribeCluster (or the configured endpoint and CA) and the default
 * credential chain, or, for an entry with a roleArn, the role assumed in the cluster's account.
 */
export function defaultAccess(cluster: ClusterConfig, deadline: Deadline): Promise<ClusterConnection> {
  const where = `access to EKS cluster ${cluster.name}`;
  if (cluster.assumeRole !== undefined) {
    const { roleArn, externalId, sessionName } = cluster.assumeRole;
    return deadline
      .race(getAssumedClusterAccess(cluster, { roleArn, externalId, sessionName, region: cluster.region }, { cache: assumedRoleCache(), deadline }), where)
      .then(({ server, caData, token, identity }) => ({ server, caData, token, identity }));
  }
  const deps: ClusterAccessDeps = {
    describe: sdkDescribeCluster(cluster.region, undefined, deadline),
    credentials: createEksCredentialsProvider(cluster.region),
  };
  return deadline.race(getClusterAccess(cluster, deps), where).then(({ server, caData, token }) => ({ server, caData, token }));
}

/**
 * A cluster's connection, within the deadline: a cluster the deadline finds waiting behind
 * KUBE_CLUSTER_CONCURRENCY is not started at all, and an access that does not settle by the
 * deadline (whatever `access` is) does not hold its slot. Its bearer token is registered for
 * redaction before anything can print it.
 */
export async function connectCluster(access: ClusterAccess, cluster: ClusterConfig, deadline: Deadline): Promise<ClusterConnection> {
  const what = `cluster ${cluster.name}`;
  deadline.check(what);
  const connection = await deadline.race(access(cluster, deadline), `access to ${what}`);
  rememberSecret(connection.token);
  return connection;
}
