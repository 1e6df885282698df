/**
 * The doctor's requests to a registry over `node:https`: the status and a few headers of one
 * GET or HEAD, never a body. Certificates are verified as for any HTTPS call (the system's CAs,
 * plus NODE_EXTRA_CA_CERTS when the process starts with it); there is no insecure mode. Each
 * request has a total timeout, bounded by the run's deadline.
 */
import { request, type Agent } from "node:https";
import { DeadlineExceededError, NO_DEADLINE, type Deadline } from "../shared/deadline";

/** What one request answered. */
export interface RegistryAnswer {
  status: number;
  /** `Content-Type` (a manifest's media type). */
  contentType?: string;
  /** `Docker-Content-Digest` (a manifest's digest). */
  digest?: string;
}

export interface RegistryRequest {
  /** `host[:port]`, as in image references. */
  host: string;
  method: "GET" | "HEAD";
  path: string;
  headers: Record<string, string>;
  deadline?: Deadline | undefined;
}

/** One request to a registry (node:https in production, a stub or a local server in tests). */
export type RegistryRequestFn = (input: RegistryRequest) => Promise<RegistryAnswer>;

/** A request that got no HTTP answer: `code` is the network or TLS error code. */
export class RegistryUnreachableError extends Error {
  override readonly name = "RegistryUnreachableError";
  constructor(
    readonly url: string,
    readonly code: string,
  ) {
    super(`no answer from ${url} (${code})`);
  }
}

/** One request may take this long in total (connection to headers), unless the deadline is sooner. */
const REGISTRY_REQUEST_TIMEOUT_MS = 10_000;

export interface HttpsRegistryOptions {
  /** A TLS agent (tests: one trusting a local CA); default: a fresh connection per request. */
  agent?: Agent;
  timeoutMs?: number;
}

export function httpsRegistryRequest(options: HttpsRegistryOptions = {}): RegistryRequestFn {
  const timeoutMs = options.timeoutMs ?? REGISTRY_REQUEST_TIMEOUT_MS;
  return (input) => {
    const deadline = input.deadline ?? NO_DEADLINE;
    const url = `https://${input.host}${input.path}`;
    const what = `${input.method} ${url}`;
    if (deadline.expired()) return Promise.reject(new DeadlineExceededError(what));
    const target = new URL(url);
    return new Promise<RegistryAnswer>((resolve, reject) => {
      const left = deadline.remainingMs();
      let settled = false;
      const settle = (action: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        deadline.signal.removeEventListener("abort", onDeadline);
        action();
      };
      const onDeadline = () => {
        settle(() => reject(new DeadlineExceededError(what)));
        req.destroy();
      };
      const timer = setTimeout(
        () => {
          if (left <= timeoutMs) onDeadline();
          else {
            settle(() => reject(new RegistryUnreachableError(url, "ETIMEDOUT")));
            req.destroy();
          }
        },
        Math.min(timeoutMs, left),
      );
      const req = request(
        {
          protocol: "https:",
          hostname: target.hostname,
          port: target.port || 443,
          method: input.method,
          path: target.pathname,
          headers: { "user-agent": "ecr-token-rotator doctor", ...input.headers },
          agent: options.agent ?? false,
        },
        (res) => {
          // Only the status and headers matter: the body is read and dropped.
          res.resume();
          const header = (key: string) => (typeof res.headers[key] === "string" ? (res.headers[key] as string) : undefined);
          const contentType = header("content-type");
          const digest = header("docker-content-digest");
          settle(() =>
            resolve({ status: res.statusCode ?? 0, ...(contentType !== undefined ? { contentType } : {}), ...(digest !== undefined ? { digest } : {}) }),
          );
        },
      );
      req.on("error", (error: NodeJS.ErrnoException) => settle(() => reject(new RegistryUnreachableError(url, error.code ?? error.message))));
      if (Number.isFinite(deadline.at)) deadline.signal.addEventListener("abort", onDeadline, { once: true });
      req.end();
    });
  };
}
