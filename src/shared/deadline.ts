/**
 * The deadline of one invocation: the instant by which the work must stop so that the Report,
 * the summary log line and the metrics still go out. The Lambda handler derives it from the
 * context (`getRemainingTimeInMillis()` minus a reserve for reporting), the CLI from
 * `--timeout`. It is passed down to every network call: each gets a total timeout of
 * `min(its own cap, the time left)`, and an AbortSignal that fires at the deadline.
 *
 * Work that the deadline cuts (or that never starts because the deadline has passed) is
 * reported `skipped` with the reason {@link DEADLINE_REASON}, and the run fails.
 */

/** The reason recorded for work the deadline cut or never let start. */
export const DEADLINE_REASON = "deadline";

/** Thrown when the deadline has passed (or passes while a call is in flight). Never retried. */
export class DeadlineExceededError extends Error {
  override readonly name = "DeadlineExceededError";
  constructor(readonly what?: string) {
    super(`deadline reached${what ? ` during ${what}` : ""}`);
  }
}

export function isDeadlineExceeded(error: unknown): error is DeadlineExceededError {
  return (
    error instanceof DeadlineExceededError || (typeof error === "object" && error !== null && (error as { name?: unknown }).name === "DeadlineExceededError")
  );
}

export interface Deadline {
  /** Epoch milliseconds of the deadline (Infinity: none). */
  readonly at: number;
  /** Milliseconds left (0 once passed; Infinity without a deadline). */
  remainingMs(): number;
  expired(): boolean;
  /** Throws {@link DeadlineExceededError} when the deadline has passed. */
  check(what?: string): void;
  /** The total timeout of one call: `min(capMs, remainingMs())`, at least 1 ms. */
  budget(capMs: number): number;
  /** Aborts (with a DeadlineExceededError as its reason) when the deadline passes. */
  readonly signal: AbortSignal;
  /**
   * Settles like `work`, unless the deadline passes first: then rejects with
   * DeadlineExceededError (and `onExpire` runs, e.g. to destroy the request).
   */
  race<T>(work: Promise<T>, what?: string, onExpire?: () => void): Promise<T>;
}

export interface DeadlineClock {
  /** Epoch milliseconds (default Date.now). */
  now?: () => number;
}

/** A deadline at epoch millisecond `at` (Infinity for none). */
export function deadlineAt(at: number, clock: DeadlineClock = {}): Deadline {
  const now = clock.now ?? Date.now;
  let controller: AbortController | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const remainingMs = () => Math.max(0, at - now());
  const expired = () => remainingMs() <= 0;
  const deadline: Deadline = {
    at,
    remainingMs,
    expired,
    check(what) {
      if (expired()) throw new DeadlineExceededError(what);
    },
    budget(capMs) {
      return Math.max(1, Math.min(capMs, remainingMs()));
    },
    get signal(): AbortSignal {
      if (controller === undefined) {
        controller = new AbortController();
        if (Number.isFinite(at)) {
          const fire = () => {
            const left = remainingMs();
            if (left > 0) {
              // Timers may fire early against a clock that is not the timers' own; re-arm.
              timer = setTimeout(fire, left);
              timer.unref?.();
              return;
            }
            controller!.abort(new DeadlineExceededError());
          };
          timer = setTimeout(fire, remainingMs());
          // The deadline must never keep a process alive on its own.
          timer.unref?.();
        }
      }
      return controller.signal;
    },
    race<T>(work: Promise<T>, what?: string, onExpire?: () => void): Promise<T> {
      if (!Number.isFinite(at)) return work;
      if (expired()) {
        onExpire?.();
        work.catch(() => undefined);
        return Promise.reject(new DeadlineExceededError(what));
      }
      const signal = deadline.signal;
      return new Promise<T>((resolve, reject) => {
        const onAbort = () => {
          onExpire?.();
          reject(new DeadlineExceededError(what));
        };
        signal.addEventListener("abort", onAbort, { once: true });
        work.then(
          (value) => {
            signal.removeEventListener("abort", onAbort);
            resolve(value);
          },
          (error: unknown) => {
            signal.removeEventListener("abort", onAbort);
            // A call aborted by the deadline's signal reports the deadline, not its own abort.
            // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the work's own rejection, passed on unchanged
            reject(signal.aborted ? new DeadlineExceededError(what) : error);
          },
        );
      });
    },
  };
  return deadline;
}

/** A deadline `ms` from now. */
export function deadlineIn(ms: number, clock: DeadlineClock = {}): Deadline {
  const now = clock.now ?? Date.now;
  return deadlineAt(now() + ms, clock);
}

/** No deadline: calls keep only their own caps. */
export const NO_DEADLINE: Deadline = deadlineAt(Number.POSITIVE_INFINITY);

/**
 * The reserve kept back from the Lambda's remaining time for reporting (closing clients, the
 * summary log line, the metrics, returning the Report): 10 % of the remaining time, at least
 * 500 ms and at most 5 s.
 */
export function reportReserveMs(remainingMs: number): number {
  return Math.min(5_000, Math.max(500, Math.floor(remainingMs * 0.1)));
}

/** The invocation's deadline from a Lambda context: remaining time minus the reporting reserve. */
export function deadlineFromLambdaContext(context: { getRemainingTimeInMillis(): number }, clock: DeadlineClock = {}): Deadline {
  const remaining = context.getRemainingTimeInMillis();
  return deadlineIn(Math.max(0, remaining - reportReserveMs(remaining)), clock);
}
