/**
 * Total timeouts for AWS SDK calls. Every SDK client the product creates gets a
 * {@link AttemptBoundHandler} (via {@link SDK_CLIENT_OPTIONS}): a connection timeout, and a
 * total time per attempt — connecting, the headers and the whole body — after which the attempt
 * fails with a TimeoutError (ETIMEDOUT) that the SDK's retry strategy retries. Every call goes
 * through {@link sdkSend}, which bounds that per-attempt time by the invocation's deadline, hands
 * the SDK the deadline's AbortSignal (no retry starts after it) and returns at the deadline even
 * if the SDK is still in a retry wait. A credential callback the SDK runs inside such a call
 * (assumed-role credentials refreshed on demand) reads that call's deadline with
 * {@link currentSdkDeadline}, so the STS call it may make ends by the same deadline.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { Readable } from "node:stream";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { NO_DEADLINE, type Deadline } from "./deadline";

/** Connecting (TCP + TLS) may take this long. */
export const SDK_CONNECTION_TIMEOUT_MS = 3_000;
/** One attempt of one SDK request may take this long in total (before retries). */
export const SDK_REQUEST_TIMEOUT_MS = 10_000;

/**
 * Attempts of one SDK call, the first included (the SDK's standard retry mode: exponential
 * backoff with jitter, throttling and 5xx retried) — the one retry policy of every SDK client.
 */
export const SDK_MAX_ATTEMPTS = 4;

/** `requestHandler` options for every SDK client (NodeHttpHandler options). */
export const SDK_REQUEST_HANDLER = {
  connectionTimeout: SDK_CONNECTION_TIMEOUT_MS,
  requestTimeout: SDK_REQUEST_TIMEOUT_MS,
  throwOnRequestTimeout: true,
} as const;

type HandleOptions = Parameters<NodeHttpHandler["handle"]>[1];
type Handled = Awaited<ReturnType<NodeHttpHandler["handle"]>>;

/** The error of an attempt that ran out of time: retried by the SDK like a socket timeout. */
function attemptTimeout(totalMs: number): Error {
  return Object.assign(new Error(`the answer did not arrive in full within the ${totalMs} ms an attempt may take`), {
    name: "TimeoutError",
    code: "ETIMEDOUT",
  });
}

/**
 * Ends a response body that is still arriving `leftMs` from now (a body that hangs or trickles
 * after the headers), or when `signal` (the call's deadline) fires.
 */
function boundBody(body: unknown, leftMs: number, totalMs: number, signal: AbortSignal | undefined): void {
  if (!(body instanceof Readable) || body.readableEnded || body.destroyed) return;
  const timer = setTimeout(() => body.destroy(attemptTimeout(totalMs)), Math.max(0, leftMs));
  timer.unref();
  const onAbort = () => body.destroy(Object.assign(new Error("Request aborted"), { name: "AbortError" }));
  signal?.addEventListener("abort", onAbort, { once: true });
  const done = () => {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  };
  body.once("end", done);
  body.once("close", done);
  // Never an unhandled 'error' event: whoever reads the body gets the error through its own listener.
  body.on("error", done);
}

/**
 * The SDK's NodeHttpHandler with a total time per attempt. NodeHttpHandler's request timeout
 * stops at the response headers, and its socket timeout is an idle timer that a trickling body
 * never trips; here the same total covers the body too. `attemptTimeoutMs` caps the time a call
 * asks for (sdkSend's per-call `requestTimeout`, already bounded by the deadline).
 */
export class AttemptBoundHandler extends NodeHttpHandler {
  constructor(private readonly attemptTimeoutMs: number = SDK_REQUEST_TIMEOUT_MS) {
    super({ ...SDK_REQUEST_HANDLER, requestTimeout: attemptTimeoutMs });
  }

  override async handle(request: Parameters<NodeHttpHandler["handle"]>[0], options: HandleOptions = {}): Promise<Handled> {
    const totalMs = Math.min(this.attemptTimeoutMs, options.requestTimeout ?? Infinity);
    const started = Date.now();
    const handled = await super.handle(request, { ...options, requestTimeout: totalMs });
    // sdkSend hands the SDK a global AbortSignal (the deadline's); the SDK's type is a narrower interface.
    const signal = options.abortSignal instanceof AbortSignal ? options.abortSignal : undefined;
    boundBody(handled.response.body, totalMs - (Date.now() - started), totalMs, signal);
    return handled;
  }
}

/**
 * The options every SDK client is created with: the retry policy and the total timeouts. Each
 * client that spreads them gets a handler of its own (its agents are destroyed with it).
 */
export const SDK_CLIENT_OPTIONS = {
  maxAttempts: SDK_MAX_ATTEMPTS,
  get requestHandler(): AttemptBoundHandler {
    return new AttemptBoundHandler();
  },
};

/** The per-call options of `client.send(command, options)`. */
export interface SdkCallOptions {
  abortSignal?: AbortSignal;
  requestTimeout: number;
}

/** The deadline of the {@link sdkSend} call the current async context runs in (only finite ones are stored). */
const callDeadline = new AsyncLocalStorage<Deadline>();

/**
 * The deadline of the SDK call in progress, for code the SDK runs inside it (a client's
 * `credentials` callback); undefined outside {@link sdkSend} or when that call has no deadline.
 */
export function currentSdkDeadline(): Deadline | undefined {
  return callDeadline.getStore();
}

/** Runs one SDK call (`send` receives the per-call options) within the deadline. */
export async function sdkSend<T>(deadline: Deadline | undefined, what: string, send: (options: SdkCallOptions) => Promise<T>): Promise<T> {
  const d = deadline ?? NO_DEADLINE;
  if (!Number.isFinite(d.at)) return send({ requestTimeout: SDK_REQUEST_TIMEOUT_MS });
  d.check(what);
  return d.race(
    callDeadline.run(d, () => send({ abortSignal: d.signal, requestTimeout: d.budget(SDK_REQUEST_TIMEOUT_MS) })),
    what,
  );
}
