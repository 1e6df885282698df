/**
 * Progress of the Kubernetes step while namespaces are applied. On a terminal: one line per
 * cluster, rewritten in place (at most every 100 ms). Elsewhere (CI, `tee`, Lambda logs): a
 * plain line each time another 10% is done or 5 s have passed, and one when the cluster is done.
 */
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
