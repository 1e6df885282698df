/**
 * Names and limits, each written and explained once: the shapes of Kubernetes and AWS names the
 * product validates, the namespaces it leaves alone, and the sizes and lifetimes it works with.
 * Like aws-iam-authenticator's token.go, one commented block instead of copies in every module.
 */

/** RFC 1123 DNS label (Kubernetes namespace names): lower-case alphanumerics and `-`, at most 63. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS_LABEL_MAX_LENGTH = 63;

/** RFC 1123 DNS subdomain (Secret and ServiceAccount names): dot-separated labels, at most 253. */
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const DNS_SUBDOMAIN_MAX_LENGTH = 253;

export function isDnsLabel(name: string): boolean {
  return name.length <= DNS_LABEL_MAX_LENGTH && DNS_LABEL.test(name);
}

export function isDnsSubdomain(name: string): boolean {
  return name.length <= DNS_SUBDOMAIN_MAX_LENGTH && DNS_SUBDOMAIN.test(name);
}

/** A Kubernetes namespace name is a DNS label. */
export const isValidNamespaceName = isDnsLabel;

/** EKS cluster names (the CreateCluster API's pattern): 1–100 characters, alphanumeric first. */
export const EKS_CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/;

/**
 * AWS region codes of every partition: `us-east-1`, `cn-north-1`, `us-gov-west-1`,
 * `us-isob-east-1`, `eu-isoe-west-1` and the European Sovereign Cloud's `eusc-de-east-1`
 * (a 2–4 letter prefix, then dash-separated parts, then a 1–2 digit number).
 */
export const AWS_REGION_SOURCE = "[a-z]{2,4}(?:-[a-z0-9]+)+-\\d{1,2}";
/** The same pattern, anchored (AWS_REGION_SOURCE is for embedding in a larger pattern, e.g. ECR hosts). */
export const AWS_REGION = new RegExp(`^${AWS_REGION_SOURCE}$`);

export function isAwsRegion(region: string): boolean {
  return AWS_REGION.test(region);
}

/** The namespaces Kubernetes runs itself in: excluded from writes unless asked for explicitly. */
export const SYSTEM_NAMESPACES: readonly string[] = ["kube-system", "kube-public", "kube-node-lease"];

/**
 * Page size of every cluster-wide LIST (namespaces, Secrets, ServiceAccounts, ExternalSecrets,
 * pods, Events). The node:https adapter reduces each item as it arrives (kube/list-stream.ts):
 * a pull Secret (~9 KB of JSON with a real ECR token) leaves a summary of ~100 bytes, a pod its
 * stuck containers, so the client's memory no longer grows with the page. What a page costs is
 * the API server's: kube-apiserver sets no upper bound on `limit` (v1.34: the watch cache
 * serves LISTs, and encodes JSON lists item by item), kubectl's default chunk size is 500.
 * 1,000 keeps a 10,000-namespace heal to ~20 LIST requests (namespaces + pull Secrets) and a
 * page of pull Secrets to ~9 MB on the wire. (The optional client-node adapter parses pages
 * whole: ~20 MB of transient memory for such a page.)
 */
export const LIST_PAGE_SIZE = 1000;

/**
 * Lifetime of an EKS bearer token: `aws eks get-token` reports signing time + 14 min (the API
 * server accepts the presigned URL for 15 min; one minute is kept for clock skew).
 */
export const EKS_TOKEN_LIFETIME_MS = 14 * 60_000;

/**
 * Parallel requests per cluster (KUBE_CONCURRENCY, and the apply engine's own check): at most 64.
 * The documented and configured bound; the engine used to accept 256, which no configuration could
 * ask for, and 64 × KUBE_CLUSTER_CONCURRENCY (32) already bounds a fleet heal's sockets at 2,048.
 */
export const MAX_KUBE_CONCURRENCY = 64;

/** Lifetime of an ECR authorization token: 12 hours from issue (GetAuthorizationToken's `expiresAt`). */
export const ECR_TOKEN_LIFETIME_SECONDS = 12 * 3600;

/**
 * How far an ECR token's expiry may lie beyond its lifetime, by this clock, and still be
 * believed: the clock-skew margin between this machine and AWS. An expiry further ahead — a
 * stored `expires_at` in year 9999, an `expiresAt` days away — is not a token ECR issued now:
 * ECR's answer is refused, a stored value counts as having no valid expiry.
 */
export const EXPIRY_CLOCK_SKEW_SECONDS = 15 * 60;
