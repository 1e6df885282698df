/**
 * Progress of a run on stderr.
 * - The Kubernetes step while namespaces are applied: on a terminal one line per cluster,
 *   rewritten in place (at most every 100 ms); elsewhere (CI, `tee`, Lambda logs) a plain line
 *   each time another 10% is done or 5 s have passed, and one when the cluster is done.
 * - What the run waits on while a request goes unanswered: host, request, try n of m, seconds.
 */
import { hostOfUrl } from "../shared/problem-text";
import { waitingNow, type Waiting } from "../shared/waiting";

export interface ProgressOptions {
  /** stderr is a terminal: rewrite one line with `\r`. */
  terminal: boolean;
  now?: () => number;
}

export type OnProgress = (cluster: string, done: number, total: number) => void;

export function progressReporter(write: (text: string) => void, options: ProgressOptions): OnProgress {
  const now = options.now ?? Date.now;
  const state = new Map<string, { at: number; decile: number }>();
  return (cluster, done, total) => {
    const t = now();
    let s = state.get(cluster);
    if (s === undefined) {
      s = { at: options.terminal ? -Infinity : t, decile: 0 };
      state.set(cluster, s);
    }
    const finished = done === total;
    if (options.terminal) {
      if (!finished && t - s.at < 100) return;
      s.at = t;
      write(`\r${cluster}: ${done}/${total} namespaces${finished ? "\n" : ""}`);
      return;
    }
    const decile = total === 0 ? 10 : Math.floor((done * 10) / total);
    if (!finished && decile <= s.decile && t - s.at < 5000) return;
    if (finished && s.decile === 10) return;
    s.at = t;
    s.decile = finished ? 10 : decile;
    write(`${cluster}: ${done}/${total} namespaces (${total === 0 ? 100 : Math.floor((done * 100) / total)}%)${finished ? ", done" : ""}\n`);
  };
}

export interface WaitingReporterOptions {
  /** stderr is a terminal: one line rewritten in place (cleared when the wait ends). */
  terminal: boolean;
  now?: () => number;
  /** The requests in flight (default: the transport's, src/shared/waiting.ts). */
  waiting?: () => Waiting[];
}

/** A request is said to be waited on once it has waited this long; elsewhere than on a terminal, a line at most every LOG_EVERY_MS. */
const WAITED_MS = 2_000;
const LOG_EVERY_MS = 5_000;

/** `waiting on <host> for <what> (try n of m): no answer for N s[; K more requests in flight]`. */
export function waitingLine(waiting: readonly Waiting[], now: number): string | undefined {
  const first = waiting[0];
  if (first === undefined) return undefined;
  const attempt = first.try ? ` (try ${first.try.attempt} of ${first.try.of})` : "";
  const more = waiting.length > 1 ? `; ${waiting.length - 1} more request${waiting.length > 2 ? "s" : ""} in flight` : "";
  return `waiting on ${hostOfUrl(first.url)} for ${first.what}${attempt}: no answer for ${Math.floor((now - first.since) / 1000)} s${more}`;
}

/**
 * What the run waits on, while a request goes unanswered: `tick` (called about every second)
 * writes the line once a request has waited 2 s — on a terminal rewritten in place, elsewhere
 * a line at most every 5 s; `stop` clears a terminal's line.
 */
export function waitingReporter(write: (text: string) => void, options: WaitingReporterOptions): { tick: () => void; stop: () => void } {
  const now = options.now ?? Date.now;
  const inFlight = options.waiting ?? waitingNow;
  let shown = false;
  let lastLine = -Infinity;
  const clear = (): void => {
    if (shown && options.terminal) write("\r\x1b[K");
    shown = false;
  };
  const tick = (): void => {
    const t = now();
    const slow = inFlight().filter((w) => t - w.since >= WAITED_MS);
    const line = waitingLine(slow, t);
    if (line === undefined) return clear();
    if (options.terminal) {
      write(`\r\x1b[K${line}`);
      shown = true;
    } else if (t - lastLine >= LOG_EVERY_MS) {
      write(`${line}\n`);
      lastLine = t;
    }
  };
  return { tick, stop: clear };
}
