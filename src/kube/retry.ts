/**
 * Retry policy for Kubernetes API requests: which failures are retried, and how long to wait.
 * Exponential backoff with full jitter, `Retry-After` honoured (bounded), a bounded number of
 * attempts. 409 is retryable but handled by the caller (re-read, decide again) — see apply.ts.
 */
import { DeadlineExceededError, isDeadlineExceeded, type Deadline } from "../shared/deadline";
import { KubeApiError } from "./types";

export interface RetryPolicy {
  /** Total attempts including the first (>= 1). */
  maxAttempts: number;
  /** Backoff base: the ceiling of the n-th retry's delay is base * 2^(n-1). */
  baseDelayMs: number;
  /** Cap on a computed backoff delay. */
  maxDelayMs: number;
  /** Cap on a server-requested `Retry-After` wait. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 100,
  maxDelayMs: 3_000,
  maxRetryAfterMs: 10_000,
};

export type FailureKind =
  | "conflict" // 409: stale resourceVersion or AlreadyExists — re-read and decide again
  | "throttled" // 429
  | "server" // 5xx
  | "network" // connection reset, socket hang up, timeout...
  | "forbidden" // 403
  | "unauthorized" // 401
  | "not-found" // 404
  | "deadline" // the invocation's deadline passed: never retried
  | "other"; // 4xx such as 400/422: retrying cannot help

export interface FailureClassification {
  kind: FailureKind;
  retryable: boolean;
  /** From `Retry-After` (seconds) when the server sent one. */
  retryAfterMs?: number;
}

const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_ABORTED",
]);
const NETWORK_MESSAGES = /socket hang up|other side closed|fetch failed|terminated|network|ECONNRESET|EPIPE/i;

/**
 * A request that got no HTTP answer, as a {@link KubeApiError}: status 0 with the network code
 * when it is a network error (retryable), else status -1 naming the URL and the error's code —
 * e.g. a CA that does not verify the server: not retried, reported by code only. Shared by both
 * adapters and the review requests.
 */
export function transportError(error: unknown, url: string, where: KubeApiError["details"] = {}, code: string | undefined = stringCode(error)): KubeApiError {
  const networkCode = networkErrorCode(error);
  if (networkCode) return new KubeApiError(0, "", { ...where, networkCode, url });
  return new KubeApiError(-1, `request to ${url} failed${code ? ` (${code})` : ""}`, { ...where, url });
}

function stringCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

/** The network error code somewhere in an error's `cause` chain, if it is a network error. */
export function networkErrorCode(error: unknown): string | undefined {
  if (error instanceof KubeApiError) return error.status === 0 ? (error.details.networkCode ?? "NETWORK") : undefined;
  let messageMatch = false;
  let otherCode = false;
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current && typeof current === "object"; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return code;
    // e.g. a TLS verification failure (DEPTH_ZERO_SELF_SIGNED_CERT) under "fetch failed": not transient
    if (typeof code === "string" && /^[A-Z][A-Z0-9_]+$/.test(code)) otherCode = true;
    const message = (current as { message?: unknown }).message;
    if (typeof message === "string" && NETWORK_MESSAGES.test(message)) messageMatch = true;
    current = (current as { cause?: unknown }).cause;
  }
  return messageMatch && !otherCode ? "NETWORK" : undefined;
}

export function classify(error: unknown): FailureClassification {
  if (isDeadlineExceeded(error)) return { kind: "deadline", retryable: false };
  if (error instanceof KubeApiError) {
    const s = error.status;
    if (s === 0) return { kind: "network", retryable: true };
    if (s === 409) return { kind: "conflict", retryable: true };
    if (s === 429 || s === 503 || (s >= 500 && s <= 599)) {
      const retryAfterSeconds = error.details.retryAfterSeconds;
      const out: FailureClassification = { kind: s === 429 ? "throttled" : "server", retryable: true };
      if (retryAfterSeconds !== undefined && Number.isFinite(retryAfterSeconds) && retryAfterSeconds >= 0) {
        out.retryAfterMs = retryAfterSeconds * 1000;
      }
      return out;
    }
    if (s === 403) return { kind: "forbidden", retryable: false };
    if (s === 401) return { kind: "unauthorized", retryable: false };
    if (s === 404) return { kind: "not-found", retryable: false };
    return { kind: "other", retryable: false };
  }
  if (networkErrorCode(error)) return { kind: "network", retryable: true };
  return { kind: "other", retryable: false };
}

/** Parses a `Retry-After` header: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined | null, now: Date = new Date()): number | undefined {
  if (value === undefined || value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now.getTime()) / 1000));
}

/**
 * Delay before retry number `retry` (1 = first retry): full jitter over an exponentially growing
 * ceiling, but never less than a (capped) `Retry-After`.
 */
export function backoffDelay(retry: number, policy: RetryPolicy, retryAfterMs?: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  const jittered = Math.floor(random() * ceiling);
  if (retryAfterMs === undefined) return jittered;
  return Math.max(jittered, Math.min(retryAfterMs, policy.maxRetryAfterMs));
}

export interface RetryHooks {
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /**
   * Called on a 409 before the next attempt (e.g. to re-read the object). Return false to stop
   * retrying (the operation then resolves through its own result).
   */
  onConflict?: (error: KubeApiError) => Promise<void>;
  /** Called before each wait, for counting/logging (no secret material is passed). */
  onRetry?: (attempt: number, classification: FailureClassification, delayMs: number) => void;
  /**
   * The invocation's deadline: no attempt starts after it, and a retry whose wait would end
   * after it is not made (DeadlineExceededError instead of the last error).
   */
  deadline?: Deadline;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `operation` (given the 1-based attempt number) until it succeeds, fails with a
 * non-retryable error, or `policy.maxAttempts` attempts were made; rethrows the last error.
 */
export async function withRetry<T>(operation: (attempt: number) => Promise<T>, policy: RetryPolicy, hooks: RetryHooks = {}): Promise<T> {
  const wait = hooks.sleep ?? sleep;
  const maxAttempts = Math.max(1, Math.floor(policy.maxAttempts));
  const deadline = hooks.deadline;
  for (let attempt = 1; ; attempt++) {
    deadline?.check();
    try {
      return await operation(attempt);
    } catch (error) {
      const c = classify(error);
      if (!c.retryable || attempt >= maxAttempts) throw error;
      // A conflict is resolved by re-reading, not by waiting long: a short jittered pause only.
      const delay = c.kind === "conflict" ? backoffDelay(1, policy, undefined, hooks.random) : backoffDelay(attempt, policy, c.retryAfterMs, hooks.random);
      if (deadline && delay >= deadline.remainingMs()) throw new DeadlineExceededError(`a retry wait of ${delay} ms`);
      hooks.onRetry?.(attempt, c, delay);
      if (delay > 0) await wait(delay);
      if (c.kind === "conflict" && hooks.onConflict) await hooks.onConflict(error as KubeApiError);
    }
  }
}
