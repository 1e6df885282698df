/**
 * What the run is waiting on, so that a run that seems stuck can say so (the CLI prints it on
 * stderr, src/cli/progress.ts): the requests in flight (host, what, since when) and which try of
 * how many each is. The retry loop marks its tries with {@link inTry}; the HTTPS transport reads
 * the mark ({@link currentTry}) to size a try's timeout and registers each request with
 * {@link beginWaiting}. Nothing here holds secret material: URLs are scrubbed by the caller.
 */
import { AsyncLocalStorage } from "node:async_hooks";

/** Try `attempt` (1-based) of at most `of`. */
export interface Try {
  attempt: number;
  of: number;
}

/** The shortest total timeout a try gets when the retries share the time left (see {@link tryTimeoutMs}). */
export const MIN_TRY_MS = 5_000;

const tries = new AsyncLocalStorage<Try>();

/** Runs `work` as try `t`: requests it makes know which try they are. */
export function inTry<T>(t: Try, work: () => Promise<T>): Promise<T> {
  return tries.run(t, work);
}

/** The try the calling request belongs to, when a retry loop runs it. */
export function currentTry(): Try | undefined {
  return tries.getStore();
}

/**
 * The total timeout of one try: its cap, but when the tries left would not fit in the time left
 * at the cap, the time left shared among them (at least {@link MIN_TRY_MS}) — so that a server
 * that never answers costs the run's deadline, not tries × cap, and the last try is not the one
 * the deadline cuts. Never more than the time left.
 */
export function tryTimeoutMs(capMs: number, remainingMs: number, t: Try | undefined = currentTry()): number {
  const left = t ? Math.max(1, t.of - t.attempt + 1) : 1;
  const shared = Math.max(MIN_TRY_MS, Math.floor(remainingMs / left));
  return Math.max(1, Math.min(capMs, shared, remainingMs));
}

/** A request in flight. */
export interface Waiting {
  /** The URL's origin, credentials scrubbed and the host kept. */
  url: string;
  /** What the request is (`list namespaces`). */
  what: string;
  /** Its try, when a retry loop runs it. */
  try?: Try;
  /** Epoch milliseconds it started. */
  since: number;
}

const inFlight = new Set<Waiting>();

/** Registers a request in flight; the returned function ends it. */
export function beginWaiting(request: Omit<Waiting, "since">, now: () => number = Date.now): () => void {
  const entry: Waiting = { ...request, since: now() };
  inFlight.add(entry);
  return () => inFlight.delete(entry);
}

/** The requests in flight now, the longest-waiting first. */
export function waitingNow(): Waiting[] {
  return [...inFlight].sort((a, b) => a.since - b.since);
}
