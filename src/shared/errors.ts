/**
 * The errors the product raises on purpose, in one place; each says when it is thrown. Their
 * messages never carry secret material. The Kubernetes port's own error, KubeApiError (one
 * failed API request, with its status), lives with the port in src/kube/types.ts.
 */
import { scrubSecrets } from "./redact";

/** Thrown by loadConfig when environment variables are invalid: every problem found, at once. */
export class ConfigError extends Error {
  constructor(
    readonly problems: readonly string[],
    /** Probable mistakes found alongside (e.g. EKS_CLUSTER set instead of EKS_CLUSTERS). */
    readonly warnings: readonly string[] = [],
  ) {
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n  - ${problems.join("\n  - ")}` +
        (warnings.length > 0 ? `\nwarning${warnings.length === 1 ? "" : "s"}:\n  - ${warnings.join("\n  - ")}` : ""),
    );
    this.name = "ConfigError";
  }
}

/** Thrown before anything is written when an event or manual request is not accepted. */
export class BadRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BadRequestError";
  }

  /** A manual request (CLI or `{"action": …}` event) that names something invalid or unknown. */
  static manual(detail: string): BadRequestError {
    return new BadRequestError(`invalid manual request: ${detail}`);
  }
}

/** Thrown by the handler when the run finished but something failed; the Report says what. */
export class RunFailedError extends Error {
  constructor(
    message: string,
    readonly report: unknown,
  ) {
    super(message);
    this.name = "RunFailedError";
  }
}

/** Thrown when an ECR registry host (configuration, proxyEndpoint) is not an ECR private registry. */
export class InvalidRegistryHostError extends Error {
  constructor(
    readonly input: string,
    reason: string,
  ) {
    super(`invalid ECR registry host ${JSON.stringify(input)}: ${reason}`);
    this.name = "InvalidRegistryHostError";
  }
}

/** Thrown when an ECR authorization token cannot be decoded into user and password. */
export class TokenFormatError extends Error {
  constructor(reason: string) {
    super(`ECR authorization token rejected: ${reason}`);
    this.name = "TokenFormatError";
  }
}

/** Thrown when GetAuthorizationToken for a region fails or answers something unusable. */
/**
 * What went wrong with an ECR token: the call failed (`sdkName`: the SDK error's name, e.g.
 * `AccessDeniedException`), the answer was malformed, or the token it carries is already
 * `expired`, valid for `too-short` a time, or claims to be valid `too-long` (beyond an ECR
 * token's 12 h lifetime plus the clock-skew margin) by this clock.
 */
export type TokenFailure = { kind: "call"; sdkName?: string } | { kind: "answer" } | { kind: "expired" } | { kind: "too-short" } | { kind: "too-long" };

export class TokenFetchError extends Error {
  constructor(
    readonly region: string,
    reason: string,
    readonly failure: TokenFailure = { kind: "answer" },
  ) {
    super(`ECR token for ${region}: ${reason}`);
    this.name = "TokenFetchError";
  }
}

/** The TokenFailure of a failed GetAuthorizationToken call: the SDK error's name, when it has one. */
export function tokenCallFailure(error: unknown): TokenFailure {
  const name = error instanceof Error && error.name !== "Error" ? error.name : undefined;
  return name !== undefined ? { kind: "call", sdkName: name } : { kind: "call" };
}

/** Thrown when a Secrets Manager secret is refused and left untouched (foreign owner, malformed value, deleted). */
export class SecretRefusedError extends Error {
  constructor(
    readonly secretName: string,
    reason: string,
  ) {
    super(`secret ${JSON.stringify(secretName)} left untouched: ${reason}`);
    this.name = "SecretRefusedError";
  }
}

export type EksConnectionProblem = "not-found" | "not-active" | "incomplete" | "access-denied" | "credentials" | "api-error";

/** Thrown when a cluster cannot be connected to. The message names the cluster and what to do. */
export class EksConnectionError extends Error {
  override readonly name = "EksConnectionError";
  constructor(
    readonly problem: EksConnectionProblem,
    readonly cluster: string,
    readonly region: string | undefined,
    message: string,
  ) {
    super(scrubSecrets(message));
  }
}

/** Renders any thrown value as a short message (never a stack with request bodies). */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const name = error.name && error.name !== "Error" ? `${error.name}: ` : "";
    return scrubSecrets(`${name}${error.message}`);
  }
  return scrubSecrets(String(error));
}
