/**
 * The deadline of one invocation: the instant by which the work must stop so that the Report,
 * the summary log line and the metrics still go out. The Lambda handler derives it from the
 * context (`getRemainingTimeInMillis()` minus a reserve for reporting), the CLI from
 * `--timeout`. It is passed down to every network call: each gets a total timeout of
 * `min(its own cap, the time left)`, and an AbortSignal that fires at the deadline.
 *
 * Work that the deadline cuts (or that never starts because the deadline has passed) is
 * reported `skipped` with the reason {@link DEADLINE_REASON}, and the run fails. An interrupt
 * (the CLI's first Ctrl-C, {@link DeadlineClock.interrupt}) reaches the deadline at once: no new
 * work starts, what is in flight is aborted, and what it cut is `skipped` with the reason
 * {@link INTERRUPTED_REASON}.
 */

/** The reason recorded for work the deadline cut or never let start. */
export const DEADLINE_REASON = "deadline";
/** The reason recorded for work an interrupt (the CLI's Ctrl-C) cut or never let start. */
export const INTERRUPTED_REASON = "interrupted";

/** Why work was cut: the deadline passed, or the run was interrupted. */
export type CutReason = typeof DEADLINE_REASON | typeof INTERRUPTED_REASON;

/** Thrown when the deadline has passed or the run was interrupted (or this happens while a call is in flight). Never retried. */
export class DeadlineExceededError extends Error {
  override readonly name = "DeadlineExceededError";
  constructor(
    readonly what?: string,
    readonly reason: CutReason = DEADLINE_REASON,
  ) {
    super(`${reason === INTERRUPTED_REASON ? "interrupted" : "deadline reached"}${what ? ` during ${what}` : ""}`);
  }
}

export function isDeadlineExceeded(error: unknown): error is DeadlineExceededError {
  return (
    error instanceof DeadlineExceededError || (typeof error === "object" && error !== null && (error as { name?: unknown }).name === "DeadlineExceededError")
  );
}

/** Why a cut error cut its work (an error from another copy of this module counts as the deadline's unless it says otherwise). */
export function cutReasonOf(error: DeadlineExceededError): CutReason {
  return error.reason === INTERRUPTED_REASON ? INTERRUPTED_REASON : DEADLINE_REASON;
}

export interface Deadline {
  /** Epoch milliseconds of the deadline (Infinity: none). */
  readonly at: number;
  /** Milliseconds left (0 once passed or interrupted; Infinity without a deadline). */
  remainingMs(): number;
  expired(): boolean;
  /** Whether the run was interrupted (then it is expired too: no new work starts). */
  interrupted(): boolean;
  /** The error that ends work cut now: the deadline's, or the interrupt's. */
  cut(what?: string): DeadlineExceededError;
  /** Throws {@link DeadlineExceededError} when the deadline has passed or the run was interrupted. */
  check(what?: string): void;
  /** The total timeout of one call: `min(capMs, remainingMs())`, at least 1 ms. */
  budget(capMs: number): number;
  /** Aborts (with a DeadlineExceededError as its reason) when the deadline passes or the run is interrupted. */
  readonly signal: AbortSignal;
  /**
   * Settles like `work`, unless the deadline passes (or the run is interrupted) first: then
   * rejects with DeadlineExceededError (and `onExpire` runs, e.g. to destroy the request).
   */
  race<T>(work: Promise<T>, what?: string, onExpire?: () => void): Promise<T>;
}

export interface DeadlineClock {
  /** Epoch milliseconds (default Date.now). */
  now?: () => number;
  /** Aborted when the run is interrupted (the CLI's first Ctrl-C): the deadline is then reached at once. */
  interrupt?: AbortSignal;
}

/** The deadline's AbortSignal: fires at `at` (re-armed if early) or on the interrupt. */
function deadlineSignal(at: number, remainingMs: () => number, cut: () => DeadlineExceededError, interrupt: AbortSignal | undefined): AbortSignal {
  const controller = new AbortController();
  if (interrupt) {
    if (interrupt.aborted) controller.abort(cut());
    else interrupt.addEventListener("abort", () => controller.abort(cut()), { once: true });
  }
  if (Number.isFinite(at)) {
    const fire = () => {
      const left = remainingMs();
      if (left > 0) {
        // Timers may fire early against a clock that is not the timers' own; re-arm.
        setTimeout(fire, left).unref?.();
        return;
      }
      controller.abort(cut());
    };
    // The deadline must never keep a process alive on its own.
    setTimeout(fire, remainingMs()).unref?.();
  }
  return controller.signal;
}

/** A deadline at epoch millisecond `at` (Infinity for none). */
export function deadlineAt(at: number, clock: DeadlineClock = {}): Deadline {
  const now = clock.now ?? Date.now;
  const interrupt = clock.interrupt;
  let signal: AbortSignal | undefined;
  const interrupted = () => interrupt?.aborted === true;
  const remainingMs = () => (interrupted() ? 0 : Math.max(0, at - now()));
  const expired = () => remainingMs() <= 0;
  const cut = (what?: string) => new DeadlineExceededError(what, interrupted() ? INTERRUPTED_REASON : DEADLINE_REASON);
  const bounded = Number.isFinite(at) || interrupt !== undefined;
  const deadline: Deadline = {
    at,
    remainingMs,
    expired,
    interrupted,
    cut,
    check(what) {
      if (expired()) throw cut(what);
    },
    budget(capMs) {
      return Math.max(1, Math.min(capMs, remainingMs()));
    },
    get signal(): AbortSignal {
      signal ??= deadlineSignal(at, remainingMs, cut, interrupt);
      return signal;
    },
    race<T>(work: Promise<T>, what?: string, onExpire?: () => void): Promise<T> {
      if (!bounded) return work;
      if (expired()) {
        onExpire?.();
        work.catch(() => undefined);
        return Promise.reject(cut(what));
      }
      const signal = deadline.signal;
      return new Promise<T>((resolve, reject) => {
        const onAbort = () => {
          onExpire?.();
          reject(cut(what));
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
            reject(signal.aborted ? cut(what) : error);
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
