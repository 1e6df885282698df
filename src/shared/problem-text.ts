/**
 * A Problem in words: its next-step hint and its one-line reasons. Kept apart from problem.ts so
 * the rotate path, which only builds Problems, does not carry the hints and the Kubernetes
 * wording (this module is loaded with the Kubernetes code, the doctor and the CLI).
 */
import { scrub } from "./redact-text";
import { UNAUTHORIZED_CAUSES, unreachableHint } from "./next-step";
import type { Problem, ProblemTarget } from "./problem";

/** The host[:port] of a URL as written (EKS endpoint names are upper case: URL would lower-case them). */
export function hostOfUrl(url: string): string {
  return url
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, "")
    .replace(/^[^@/]*@/, "")
    .replace(/[/?#].*$/, "");
}

/** "cannot resolve <host>": a DNS failure and what usually causes it. */
export function unresolvableHint(url: string | undefined): string {
  const host = url ? hostOfUrl(url) : "the API server's host";
  return `cannot resolve ${host}: the name is not in this network's DNS — a private endpoint resolves only inside its VPC (from a laptop: a VPN into it; the Lambda: attached to the cluster's VPC), or set the cluster's endpoint override (EKS_CLUSTERS endpoint) to an address that resolves here`;
}

/** "no answer from <url>": a server that took the connection (or a path that drops it) and never answered in time. */
export function noAnswerHint(url: string | undefined): string {
  return `no answer from ${url ?? "the API server"} in time (ETIMEDOUT): it took the connection and did not answer, or the packets are dropped on the way — check that the endpoint is the cluster's (EKS_CLUSTERS endpoint, or DescribeCluster's), the network path from here (VPN, proxy, the cluster security group allowing 443) and the API server's health`;
}

/** The next step for a network Problem: resolve, reach, or trust the endpoint. */
export function networkHint(p: Problem & { kind: "network" }): string {
  if (p.code === "ENOTFOUND") return unresolvableHint(p.target.url);
  if (p.code === "ETIMEDOUT" && p.target.url !== undefined) return noAnswerHint(p.target.url);
  return unreachableHint(p.target.url, p.errno ?? p.code);
}

/** The next step a Problem calls for, when one is known. */
export function problemHint(p: Problem): string | undefined {
  switch (p.kind) {
    case "network":
      return networkHint(p);
    case "unauthorized":
      return UNAUTHORIZED_CAUSES;
    case "deadline":
      return p.interrupted
        ? "the run was interrupted: run again for the work left"
        : "the invocation's deadline came first: run again (the CLI: a larger --timeout) for the work left";
    case "forbidden":
      return "grant the missing permission (infra/k8s/components/fallback/rbac.yaml for the cluster)";
    case "throttled":
    case "server":
      return "retry in a minute; if it persists, check the service's health";
    case "not-found":
    case "conflict":
    case "rejected":
    case "invalid-answer":
    case "other":
      return undefined;
  }
}

/** ` in namespace "ns"` or ` cluster-wide`. */
function whereOf(t: ProblemTarget): string {
  return t.namespace ? ` in namespace "${t.namespace}"` : " cluster-wide";
}

/**
 * The one-line reason of a failed Kubernetes request, as the Report words it: the class and HTTP
 * status, the request (verb, resource, namespace), the missing permission for a 403, and the API
 * server's message with `secrets` removed.
 */
export function kubeRequestReason(p: Problem, secrets: readonly string[] = []): string {
  const t = p.target;
  const op = `${t.verb ?? "request"} ${t.resource ?? "the API"}${whereOf(t)}`;
  const message = p.detail ? scrub(p.detail, secrets) : "";
  const suffix = message ? `: ${message}` : "";
  switch (p.kind) {
    case "deadline":
      return p.interrupted ? `interrupted: ${op} not done (the run was interrupted)` : `deadline: ${op} not done before the invocation's deadline`;
    case "network":
      if (p.code === "ENOTFOUND") return `${unresolvableHint(t.url)} (on ${op})`;
      if (p.code === "ETIMEDOUT" && t.url !== undefined) return `${noAnswerHint(t.url)} (on ${op})`;
      return `network error (${p.errno ?? p.code}) on ${op}, retries exhausted${t.url ? `: ${networkHint(p)}` : ""}`;
    case "unauthorized":
      return `unauthorized (401): the bearer token was rejected on ${op}; ${UNAUTHORIZED_CAUSES}`;
    case "forbidden":
      return `forbidden (403): missing RBAC permission "${t.verb ?? "?"}" on "${t.resource ?? "?"}"${whereOf(t)}${suffix}`;
    case "not-found":
      return p.about === "namespaces" && t.namespace && (t.verb === "create" || t.verb === "patch")
        ? `namespace ${t.namespace} not found`
        : `not found (404) on ${op}${suffix}`;
    case "conflict":
      return `conflict (409) on ${op}, retries exhausted${suffix}`;
    case "throttled":
      return `throttled (429) on ${op}, retries exhausted${suffix}`;
    case "server":
      return `HTTP ${p.status} on ${op}, retries exhausted${suffix}`;
    case "rejected":
      return `HTTP ${p.status} on ${op}${suffix}`;
    case "invalid-answer":
    case "other":
      return `${op} failed: ${message}`;
  }
}

/** A short, generic one-line reason for any Problem (no request wording): what the CLI prints. */
export function problemReason(p: Problem): string {
  const url = p.target.url ? ` at ${p.target.url}` : "";
  switch (p.kind) {
    case "deadline":
      return `${p.interrupted ? "interrupted" : "deadline reached"}${p.detail ? ` during ${p.detail}` : ""}`;
    case "network":
      return p.code === "ENOTFOUND" ? unresolvableHint(p.target.url) : `network error ${p.errno ?? p.code} reaching ${p.target.url ?? "the server"}`;
    case "unauthorized":
    case "forbidden":
    case "not-found":
    case "conflict":
    case "throttled":
    case "server":
    case "rejected":
      return p.detail || `HTTP ${p.status}${url}`;
    case "invalid-answer":
    case "other":
      return p.detail || `failed${url}`;
  }
}
