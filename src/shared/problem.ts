/**
 * What went wrong, as a type: one {@link Problem} per failed call, built where the failure is
 * seen (the HTTPS transport, an adapter, the deadline) and carried as data to the edge. There the
 * pure functions below derive, once, what a person or a metric needs: the one-line reason, whether
 * a retry can help, what the row's outcome is, the next step. Nothing in src/ recovers a failure's
 * meaning by matching its message text.
 *
 * A Problem never holds secret material: its URL is scrubbed (userinfo and query values removed,
 * the host kept) and its detail is the remote side's message with credentials removed.
 */
import { scrub, scrubUrl } from "./redact-text";
import { UNAUTHORIZED_CAUSES, unreachableHint } from "./next-step";

/**
 * What stood between a request and its answer. `TLS`: the server's certificate did not verify
 * (or the handshake failed); `other`: a transport failure without a more precise class (its code
 * is in `errno`).
 */
export type NetworkCode = "ENOTFOUND" | "ECONNREFUSED" | "ETIMEDOUT" | "ECONNRESET" | "TLS" | "other";

/** Which remote service a failed call was made to. */
export type ProblemService = "kubernetes" | "registry" | "aws";

/** Where a failed call went: the service, and as far as known the cluster, namespace, request and URL. */
export interface ProblemTarget {
  service: ProblemService;
  cluster?: string;
  namespace?: string;
  /** The Kubernetes verb and resource of the request (`get`, `secrets`). */
  verb?: string;
  resource?: string;
  /** The URL tried, credentials scrubbed and the host kept (see {@link scrubUrl}). */
  url?: string;
}

interface ProblemBase {
  target: ProblemTarget;
  /** What the remote side said (e.g. a Kubernetes Status message), credentials removed; "" when nothing. */
  detail: string;
}

/** An HTTP answer that is a failure. `statusReason`: the Kubernetes Status `reason` (e.g. `NotFound`, `AlreadyExists`). */
interface HttpProblem extends ProblemBase {
  status: number;
  statusReason?: string;
  /** The Kubernetes Status `details.kind` (e.g. `namespaces` for a write into a missing namespace). */
  about?: string;
  /** A server-sent `Retry-After`, in seconds. */
  retryAfterSeconds?: number;
}

export type Problem =
  | (ProblemBase & { kind: "deadline" })
  | (HttpProblem & { kind: "unauthorized" })
  | (HttpProblem & { kind: "forbidden" })
  | (HttpProblem & { kind: "not-found" })
  | (HttpProblem & { kind: "conflict" })
  | (HttpProblem & { kind: "throttled" })
  | (HttpProblem & { kind: "server" })
  /** Any other 4xx (400, 422…): the request itself was refused; retrying cannot help. */
  | (HttpProblem & { kind: "rejected" })
  | (ProblemBase & { kind: "network"; code: NetworkCode; errno?: string })
  /** A 2xx answer that is not what the request promises (not JSON, not a list). */
  | (ProblemBase & { kind: "invalid-answer" })
  /** A failure outside these classes (a bug, an unexpected throw): its detail says what. */
  | (ProblemBase & { kind: "other" });

export type ProblemKind = Problem["kind"];

// ---- construction (where the failure is seen) ----

/** The Problem of a failed HTTP answer. */
export function httpProblem(
  status: number,
  target: ProblemTarget,
  answer: { detail?: string; statusReason?: string; about?: string; retryAfterSeconds?: number } = {},
): Problem {
  const base: HttpProblem = {
    target: cleanTarget(target),
    detail: scrub(answer.detail ?? ""),
    status,
    ...(answer.statusReason !== undefined ? { statusReason: answer.statusReason } : {}),
    ...(answer.about !== undefined ? { about: answer.about } : {}),
    ...(answer.retryAfterSeconds !== undefined && Number.isFinite(answer.retryAfterSeconds) && answer.retryAfterSeconds >= 0
      ? { retryAfterSeconds: answer.retryAfterSeconds }
      : {}),
  };
  return { ...base, kind: httpKind(status) };
}

function httpKind(status: number): Exclude<ProblemKind, "deadline" | "network" | "invalid-answer" | "other"> {
  if (status === 401) return "unauthorized";
  if (status === 403) return "forbidden";
  if (status === 404) return "not-found";
  if (status === 409) return "conflict";
  if (status === 429) return "throttled";
  if (status >= 500) return "server";
  return "rejected";
}

/** Transport error codes (Node, undici) by class. */
const NETWORK_CLASSES: Record<string, NetworkCode> = {
  ENOTFOUND: "ENOTFOUND",
  ECONNREFUSED: "ECONNREFUSED",
  ETIMEDOUT: "ETIMEDOUT",
  UND_ERR_CONNECT_TIMEOUT: "ETIMEDOUT",
  UND_ERR_HEADERS_TIMEOUT: "ETIMEDOUT",
  UND_ERR_BODY_TIMEOUT: "ETIMEDOUT",
  ECONNRESET: "ECONNRESET",
  ECONNABORTED: "ECONNRESET",
  EPIPE: "ECONNRESET",
  UND_ERR_SOCKET: "ECONNRESET",
  UND_ERR_CLOSED: "ECONNRESET",
  UND_ERR_ABORTED: "ECONNRESET",
  EAI_AGAIN: "other",
  ENETUNREACH: "other",
  EHOSTUNREACH: "other",
};
/** Transient transport failures of class `other`: worth a retry. */
const TRANSIENT_OTHER = new Set(["EAI_AGAIN", "ENETUNREACH", "EHOSTUNREACH"]);
/** Certificate and handshake failures (OpenSSL's verify codes, Node's TLS errors). */
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|EPROTO$|HOSTNAME_MISMATCH$)/;

/** The first error code (a string `code` property) in an error's `cause` chain. */
export function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current && typeof current === "object"; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && code !== "") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The network class of an error code; undefined when it is not a transport failure. */
export function networkCodeOf(code: string | undefined): NetworkCode | undefined {
  if (code === undefined) return undefined;
  return NETWORK_CLASSES[code] ?? (TLS_CODE.test(code) ? "TLS" : undefined);
}

/** The Problem of a request that got no HTTP answer (classified by its error code, never its message). */
export function transportProblem(error: unknown, target: ProblemTarget): Problem {
  const errno = errorCode(error);
  const code = networkCodeOf(errno) ?? "other";
  return { kind: "network", code, ...(errno !== undefined ? { errno } : {}), target: cleanTarget(target), detail: "" };
}

/** A request that timed out (the transport's own total timeout, not the deadline). */
export function timeoutProblem(target: ProblemTarget): Problem {
  return { kind: "network", code: "ETIMEDOUT", errno: "ETIMEDOUT", target: cleanTarget(target), detail: "" };
}

export function deadlineProblem(target: ProblemTarget, detail = ""): Problem {
  return { kind: "deadline", target: cleanTarget(target), detail };
}

export function invalidAnswerProblem(target: ProblemTarget, detail: string): Problem {
  return { kind: "invalid-answer", target: cleanTarget(target), detail };
}

function cleanTarget(target: ProblemTarget): ProblemTarget {
  return target.url === undefined ? target : { ...target, url: scrubUrl(target.url) };
}

/** An error that carries a Problem (KubeApiError, the transport's errors). */
export interface CarriesProblem {
  readonly problem: Problem;
}

export function carriesProblem(error: unknown): error is CarriesProblem {
  const problem = (error as { problem?: unknown } | undefined)?.problem;
  return typeof problem === "object" && problem !== null && typeof (problem as { kind?: unknown }).kind === "string";
}

// ---- derivation (at the edge; pure) ----

/** Whether another attempt can help: conflicts, throttling, 5xx and transient network failures. */
export function isRetryable(p: Problem): boolean {
  switch (p.kind) {
    case "conflict":
    case "throttled":
    case "server":
      return true;
    case "network":
      return p.code === "ECONNREFUSED" || p.code === "ETIMEDOUT" || p.code === "ECONNRESET" || (p.code === "other" && TRANSIENT_OTHER.has(p.errno ?? ""));
    case "deadline":
    case "unauthorized":
    case "forbidden":
    case "not-found":
    case "rejected":
    case "invalid-answer":
    case "other":
      return false;
  }
}

/** The outcome of a row (namespace, registry) a Problem ended: the deadline skips, anything else fails. Both fail the run. */
export function rowOutcome(p: Problem): "skipped" | "failed" {
  return p.kind === "deadline" ? "skipped" : "failed";
}

/** Whether a row that carries this Problem fails the run (every Problem does: a skipped row too). */
export function failsRun(p: Problem | undefined): boolean {
  return p !== undefined;
}

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

/** The next step for a network Problem: resolve, reach, or trust the endpoint. */
export function networkHint(p: Problem & { kind: "network" }): string {
  if (p.code === "ENOTFOUND") return unresolvableHint(p.target.url);
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
      return "the invocation's deadline came first: run again (the CLI: a larger --timeout) for the work left";
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
      return `deadline: ${op} not done before the invocation's deadline`;
    case "network":
      if (p.code === "ENOTFOUND") return `${unresolvableHint(t.url)} (on ${op})`;
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
      return `deadline reached${p.detail ? ` during ${p.detail}` : ""}`;
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
