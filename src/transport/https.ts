/**
 * The one HTTPS request machine of the product (node:https, no dependency), used by the
 * Kubernetes adapter (src/kube/http-client.ts), the review requests (src/kube/reviews.ts) and the
 * doctor's registry probes (src/doctor/registry-http.ts):
 * - a TOTAL timeout per request, connection to last byte (not an idle timer: an answer that
 *   trickles in forever ends too), never longer than the invocation's deadline leaves — when the
 *   deadline is the nearer bound the request ends as DeadlineExceededError, else as a network
 *   Problem `ETIMEDOUT`;
 * - the deadline's signal destroys a request in flight when it passes;
 * - bodies streamed: the caller's {@link BodySink} receives the answer chunk by chunk (decoded as
 *   it arrives, never concatenated in a Buffer), or the body is dropped unread;
 * - failures as {@link Problem}s: no answer → `network` with its class from the error's code.
 * The keep-alive pool is an `Agent` from {@link keepAliveAgent}, shared by the caller's requests.
 */
import { Agent, request, type AgentOptions, type RequestOptions } from "node:https";
import type { IncomingHttpHeaders } from "node:http";
import { NO_DEADLINE, type Deadline } from "../shared/deadline";
import { timeoutProblem, transportProblem, type CarriesProblem, type Problem, type ProblemTarget } from "../shared/problem";
import { scrubUrl } from "../shared/redact-text";
import { beginWaiting, currentTry, tryTimeoutMs } from "../shared/waiting";

/** A request that got no usable answer, by its Problem (the default error of {@link httpsRequest}). */
export class TransportError extends Error implements CarriesProblem {
  override readonly name = "TransportError";
  constructor(readonly problem: Problem) {
    super(`no answer from ${problem.target.url ?? "the server"} (${problem.kind === "network" ? (problem.errno ?? problem.code) : problem.kind})`);
  }
}

export interface HttpsRequest {
  /** `https://host[:port]` plus any path prefix; `path` is appended to it. */
  base: URL;
  method: string;
  path: string;
  headers: Record<string, string | number>;
  body?: string;
  /** The keep-alive pool; `false`: one connection for this request. */
  agent?: Agent | false;
  /** Extra trusted CA (PEM), when there is no agent carrying it. */
  ca?: Buffer;
  /** Total time of the request, connection to last byte; bounded by `deadline`. */
  timeoutMs: number;
  deadline?: Deadline;
  /** Where the request goes (its Problems say so). */
  target: ProblemTarget;
  /** How the request is named in a DeadlineExceededError (`list namespaces`). */
  what: string;
  /** The error a Problem becomes (e.g. a KubeApiError); default {@link TransportError}. */
  toError?: (problem: Problem) => Error;
}

/** What the server answered, before its body. */
export interface HttpsAnswer {
  status: number;
  headers: IncomingHttpHeaders;
}

/**
 * How a caller reads a body: `data` receives each decoded chunk (throwing ends the request with
 * that error), `end` the answer's value. Without `data`, the body is dropped unread.
 */
export interface BodySink<T> {
  data?(chunk: string): void;
  end(): T;
}

/** Returned by the `read` callback: settle at the headers with `value` (the body is dropped). */
export interface AtHeaders<T> {
  atHeaders: T;
}

/** One keep-alive pool (sockets reused across requests), trusting `ca` besides the system's CAs. */
export function keepAliveAgent(options: { maxSockets: AgentOptions["maxSockets"]; ca?: Buffer }): Agent {
  return new Agent({ keepAlive: true, maxSockets: options.maxSockets, ...(options.ca ? { ca: options.ca } : {}) });
}

/**
 * One request. `read` gets the status and headers and says how to read the body: a
 * {@link BodySink}, or `{ atHeaders: value }` to settle at once. Rejects with DeadlineExceededError
 * when the deadline passes first, else with `toError(problem)` for a request without an answer
 * (or cut by the total timeout), or with what the sink threw.
 */
export function httpsRequest<T>(input: HttpsRequest, read: (answer: HttpsAnswer) => BodySink<T> | AtHeaders<T>): Promise<T> {
  const deadline = input.deadline ?? NO_DEADLINE;
  const origin = scrubUrl(input.base.origin);
  // A request the deadline cuts says what it was waiting on.
  const what = `${input.what} (waiting on ${origin})`;
  if (deadline.expired()) return Promise.reject(deadline.cut(input.what));
  const toError = input.toError ?? ((p: Problem) => new TransportError(p));
  const attempt = currentTry();
  return new Promise<T>((resolve, reject) => {
    const bound = totalTimer(input, what, deadline, (error) => fail(error));
    const done = beginWaiting({ url: origin, what: input.what, ...(attempt ? { try: attempt } : {}) });
    let settled = false;
    const settle = (action: () => void): void => {
      if (settled) return;
      settled = true;
      done();
      bound.clear();
      action();
    };
    const fail = (error: unknown): void => {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what the request failed with, passed on unchanged
      settle(() => reject(error));
      req.destroy();
    };
    const req = request(requestOptions(input), (res) => {
      let sink: BodySink<T> | undefined;
      try {
        const how = read({ status: res.statusCode ?? 0, headers: res.headers });
        if ("atHeaders" in how) {
          res.resume();
          settle(() => resolve(how.atHeaders));
          return;
        }
        sink = how;
      } catch (error) {
        fail(error);
        return;
      }
      readBody(res, sink, {
        fail,
        transport,
        done: (value) => settle(() => resolve(value)),
        isSettled: () => settled,
      });
    });
    const transport = (error: unknown): Error => toError(transportProblem(error, input.target));
    // The total timer's own timeout becomes the caller's error class too.
    bound.onTimeout = () => fail(toError(timeoutProblem(input.target)));
    bound.arm();
    req.on("error", (error) => fail(transport(error)));
    req.end(input.body);
  });
}

function requestOptions(input: HttpsRequest): RequestOptions {
  return {
    protocol: "https:",
    hostname: input.base.hostname,
    port: input.base.port || 443,
    method: input.method,
    path: input.base.pathname.replace(/\/+$/, "") + input.path,
    headers: input.headers,
    agent: input.agent ?? false,
    ...(input.ca ? { ca: input.ca } : {}),
  };
}

/** Streams a response into its sink; the sink's throw, a response error or the end settle the request once. */
function readBody<T>(
  res: import("node:http").IncomingMessage,
  sink: BodySink<T>,
  on: { fail: (error: unknown) => void; transport: (error: unknown) => Error; done: (value: T) => void; isSettled: () => boolean },
): void {
  // Released once the answer is complete: a keep-alive socket may keep this response's listeners,
  // and with them the caller's sink (and what it collected), alive.
  let current: BodySink<T> | undefined = sink;
  if (current.data) res.setEncoding("utf8");
  else res.resume();
  res.on("data", (chunk: string) => {
    if (on.isSettled() || current?.data === undefined) return;
    try {
      current.data(chunk);
    } catch (error) {
      current = undefined;
      on.fail(error);
    }
  });
  res.on("error", (error) => on.fail(on.transport(error)));
  res.on("end", () => {
    const ended = current;
    current = undefined;
    if (ended === undefined || on.isSettled()) return;
    try {
      on.done(ended.end());
    } catch (error) {
      on.fail(error);
    }
  });
}

interface TotalTimer {
  arm(): void;
  clear(): void;
  onTimeout: () => void;
}

/**
 * The request's total timer: its try's timeout (timeoutMs, shared with the tries left when they
 * would not fit in the time left: src/shared/waiting.ts), never past the deadline. When the
 * deadline is the nearer bound (or its signal fires) the request ends as DeadlineExceededError,
 * else `onTimeout` runs.
 */
function totalTimer(input: HttpsRequest, what: string, deadline: Deadline, fail: (error: unknown) => void): TotalTimer {
  const left = deadline.remainingMs();
  const timeoutMs = tryTimeoutMs(input.timeoutMs, left);
  const byDeadline = left <= timeoutMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onDeadline = (): void => fail(deadline.cut(what));
  const state: TotalTimer = {
    onTimeout: () => undefined,
    arm() {
      timer = setTimeout(() => (byDeadline ? onDeadline() : state.onTimeout()), Math.min(timeoutMs, left));
      if (Number.isFinite(deadline.at)) deadline.signal.addEventListener("abort", onDeadline, { once: true });
    },
    clear() {
      clearTimeout(timer);
      if (Number.isFinite(deadline.at)) deadline.signal.removeEventListener("abort", onDeadline);
    },
  };
  return state;
}
