/**
 * The doctor's requests to a registry over `node:https`: the status and a few headers of one
 * GET or HEAD, never a body. Certificates are verified as for any HTTPS call (the system's CAs,
 * plus NODE_EXTRA_CA_CERTS when the process starts with it); there is no insecure mode. Each
 * request goes through the product's HTTPS transport: a total timeout, bounded by the run's
 * deadline, and a network Problem when no answer came.
 */
import type { Agent } from "node:https";
import { NO_DEADLINE, type Deadline } from "../shared/deadline";
import type { CarriesProblem, Problem } from "../shared/problem";
import { httpsRequest, TransportError } from "../transport/https";

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

/** A request that got no HTTP answer: its Problem says why (`code`: the network or TLS error code). */
export class RegistryUnreachableError extends Error implements CarriesProblem {
  override readonly name = "RegistryUnreachableError";
  readonly url: string;
  readonly code: string;
  constructor(readonly problem: Problem & { kind: "network" }) {
    const url = problem.target.url ?? "the registry";
    const code = problem.errno ?? problem.code;
    super(`no answer from ${url} (${code})`);
    this.url = url;
    this.code = code;
  }
}

/** One request may take this long in total (connection to headers), unless the deadline is sooner. */
const REGISTRY_REQUEST_TIMEOUT_MS = 10_000;

export interface HttpsRegistryOptions {
  /** A TLS agent (tests: one trusting a local CA); default: a fresh connection per request. */
  agent?: Agent;
  timeoutMs?: number;
}

/** The registry requests over the product's HTTPS transport: settled at the headers, the body dropped. */
export function httpsRegistryRequest(options: HttpsRegistryOptions = {}): RegistryRequestFn {
  const timeoutMs = options.timeoutMs ?? REGISTRY_REQUEST_TIMEOUT_MS;
  return (input) => {
    const url = `https://${input.host}${input.path}`;
    const target = new URL(url);
    return httpsRequest<RegistryAnswer>(
      {
        base: new URL(target.origin),
        method: input.method,
        path: target.pathname,
        headers: { "user-agent": "ecr-token-rotator doctor", ...input.headers },
        agent: options.agent ?? false,
        timeoutMs,
        deadline: input.deadline ?? NO_DEADLINE,
        target: { service: "registry", url },
        what: `${input.method} ${url}`,
        toError: (problem) => (problem.kind === "network" ? new RegistryUnreachableError(problem) : new TransportError(problem)),
      },
      // Only the status and headers matter: the body is read and dropped.
      (answer) => {
        const header = (key: string) => (typeof answer.headers[key] === "string" ? answer.headers[key] : undefined);
        const contentType = header("content-type");
        const digest = header("docker-content-digest");
        return {
          atHeaders: { status: answer.status, ...(contentType !== undefined ? { contentType } : {}), ...(digest !== undefined ? { digest } : {}) },
        };
      },
    );
  };
}
