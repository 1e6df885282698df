/**
 * What to do next, for the failures an operator meets at a cluster's door. Pure text, shared by
 * the apply engine, the diagnosis and `eks-token --check`, so each failure reads the same everywhere.
 */

/** The likely causes of a 401 from an EKS API server. */
export const UNAUTHORIZED_CAUSES =
  "likely causes: no access entry (or aws-auth mapping) for this IAM role in the cluster (aws eks create-access-entry, docs/eks.md); " +
  "the token was signed for another cluster name (the EKS_CLUSTERS name must be the cluster's own name); " +
  "this machine's clock is off by more than a few minutes (tokens are checked against AWS time)";

/** A network failure: where it tried, and what usually stands in the way. */
export function unreachableHint(url: string | undefined, code: string | undefined): string {
  return `could not reach ${url ?? "the API server"} (${code ?? "connection failed"}): check the endpoint (EKS_CLUSTERS endpoint, or DescribeCluster's), that this network can reach it (a private endpoint needs the VPC: the Lambda in it, or a VPN from a laptop), and that the cluster security group allows 443 from here`;
}

/** How a conflicting pull Secret is resolved. */
export function conflictResolution(namespace: string, name: string, kind: "foreign" | "wrong-type" | "invalid"): string {
  const inspect = `kubectl -n ${namespace} get secret ${name} -o yaml`;
  if (kind === "foreign") {
    return `to resolve: set ADOPT_EXISTING_PULL_SECRETS=true to take it over, or ask its owner (${inspect} shows its labels and managers) to remove or rename it, or set PULL_SECRET_NAME to another name`;
  }
  return `to resolve: its owner (${inspect}) removes or renames it, or set PULL_SECRET_NAME to another name`;
}

/** The exact command that re-runs a heal for some namespaces of one cluster. */
export function rerunCommand(cluster: string, namespaces: readonly string[], extraOptions = ""): string {
  return `ecr-token-rotator heal${extraOptions ? ` ${extraOptions}` : ""} --cluster ${cluster}${namespaces.map((n) => ` --namespace ${n}`).join("")}`;
}
