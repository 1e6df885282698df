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

/** Page size of the cluster-wide LISTs of small objects (namespaces, ServiceAccounts, ExternalSecrets, Events). */
export const LIST_PAGE_SIZE = 500;
/**
 * Page size of the LISTs of large objects: a pull Secret carries ~8 KB of docker config with real
 * ECR tokens and a pod several KB of JSON, and a page is parsed whole — 200 keeps a page to a few
 * MB inside the Lambda's 128 MB (a 500-item Secret page alone would cost ~20 MB).
 */
export const LARGE_LIST_PAGE_SIZE = 200;

/**
 * Lifetime of an EKS bearer token: `aws eks get-token` reports signing time + 14 min (the API
 * server accepts the presigned URL for 15 min; one minute is kept for clock skew).
 */
export const EKS_TOKEN_LIFETIME_MS = 14 * 60_000;
