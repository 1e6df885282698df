// EKS access: bearer tokens exactly as `aws eks get-token` builds them, their per-cluster cache,
// and the cluster connection (endpoint, CA, credentials) from DescribeCluster or configuration.
export * from "./token";
export * from "./token-cache";
export * from "./connection";
export * from "./assume-role";
