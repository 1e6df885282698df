/**
 * Total timeouts for AWS SDK calls. Every SDK client the product creates gets
 * {@link SDK_REQUEST_HANDLER} (a connection timeout, and a request timeout that is a total timer
 * and an error — the SDK's default only logs a warning); every call goes through
 * {@link sdkSend}, which bounds that request timeout by the invocation's deadline, hands the SDK
 * the deadline's AbortSignal (no retry starts after it) and returns at the deadline even if the
 * SDK is still in a retry wait. A credential callback the SDK runs inside such a call (assumed-role
 * credentials refreshed on demand) reads that call's deadline with {@link currentSdkDeadline}, so
 * the STS call it may make ends by the same deadline.
 */
import { AsyncLocalStorage } from "node:async_hooks";
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

/** The options every SDK client is created with: the retry policy and the total timeouts. */
export const SDK_CLIENT_OPTIONS = { maxAttempts: SDK_MAX_ATTEMPTS, requestHandler: SDK_REQUEST_HANDLER } as const;

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
