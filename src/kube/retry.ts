/**
 * Retry policy for Kubernetes API requests: which failures are retried, and how long to wait.
 * Exponential backoff with full jitter, `Retry-After` honoured (bounded), a bounded number of
 * attempts. 409 is retryable but handled by the caller (re-read, decide again) — see apply.ts.
 */
import { cutReasonOf, isDeadlineExceeded, type Deadline } from "../shared/deadline";
import { carriesProblem, deadlineProblem, errorCode, isRetryable, networkCodeOf, transportProblem, type Problem, type ProblemTarget } from "../shared/problem";
import { scrub } from "../shared/redact-text";
import { inTry, MIN_TRY_MS } from "../shared/waiting";
import { KubeApiError, kubeTarget, type KubeRequestWhere } from "./types";

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

/**
 * The retry view of a failure: its Problem's kind (`other` also for a refused request and an
 * unusable answer: retrying cannot help either), whether it is retried, and the server's
 * `Retry-After`.
 */
export type FailureKind = "conflict" | "throttled" | "server" | "network" | "forbidden" | "unauthorized" | "not-found" | "deadline" | "other";

export interface FailureClassification {
  kind: FailureKind;
  retryable: boolean;
  /** From `Retry-After` (seconds) when the server sent one. */
  retryAfterMs?: number;
}

/**
 * A request that got no HTTP answer, as a {@link KubeApiError} whose Problem is `network` with
 * the error's class (ENOTFOUND, ECONNREFUSED, ETIMEDOUT, ECONNRESET, TLS, other) — read from the
 * error's codes, never its message. Shared by both adapters and the review requests.
 */
export function transportError(error: unknown, url: string, where: KubeRequestWhere = {}): KubeApiError {
  if (error instanceof KubeApiError) return error;
  return new KubeApiError(transportProblem(error, kubeTarget({ ...where, url })));
}

/** The Problem of any thrown value: its own, the deadline's, a transport failure's by its code, else `other`. */
export function problemOf(error: unknown, target: ProblemTarget = { service: "kubernetes" }): Problem {
  if (carriesProblem(error)) return error.problem;
  if (isDeadlineExceeded(error)) return deadlineProblem(target, error.what ?? "", cutReasonOf(error));
  if (networkCodeOf(errorCode(error)) !== undefined) return transportProblem(error, target);
  return { kind: "other", target, detail: scrub(error instanceof Error ? error.message : String(error)) };
}

export function classify(error: unknown): FailureClassification {
  if (isDeadlineExceeded(error)) return { kind: "deadline", retryable: false };
  const p = problemOf(error);
  const kind: FailureKind = p.kind === "rejected" || p.kind === "invalid-answer" ? "other" : p.kind;
  const out: FailureClassification = { kind, retryable: isRetryable(p) };
  if ((p.kind === "throttled" || p.kind === "server") && p.retryAfterSeconds !== undefined) out.retryAfterMs = p.retryAfterSeconds * 1000;
  return out;
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

/** A try that ended at its own total timeout (no answer in time). */
function timedOut(error: unknown): boolean {
  const p = carriesProblem(error) ? error.problem : undefined;
  return p?.kind === "network" && p.code === "ETIMEDOUT";
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
      return await inTry({ attempt, of: maxAttempts }, () => operation(attempt));
    } catch (error) {
      const c = classify(error);
      if (!c.retryable || attempt >= maxAttempts) throw error;
      // A conflict is resolved by re-reading, not by waiting long: a short jittered pause only.
      const delay = c.kind === "conflict" ? backoffDelay(1, policy, undefined, hooks.random) : backoffDelay(attempt, policy, c.retryAfterMs, hooks.random);
      if (deadline && delay >= deadline.remainingMs()) throw deadline.cut(`a retry wait of ${delay} ms`);
      // A try that got no answer in time is not repeated when the next could not get the time a
      // try is given: its own failure (naming the URL) ends the loop, not the deadline mid-try.
      if (deadline && timedOut(error) && deadline.remainingMs() - delay < MIN_TRY_MS) throw error;
      hooks.onRetry?.(attempt, c, delay);
      if (delay > 0) await wait(delay);
      if (c.kind === "conflict" && hooks.onConflict) await hooks.onConflict(error as KubeApiError);
    }
  }
}
