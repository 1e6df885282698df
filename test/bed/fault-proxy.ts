// A fault-injecting HTTP(S) reverse proxy for tests: put it in front of kube-apiserver (TLS, with
// a certificate from the bed's test CA, so one CA bundle serves direct and proxied URLs) or in
// front of moto (plain HTTP). Per-test switches: added latency, 429 with Retry-After, 5xx,
// dropped connections, slow responses, hung requests (never answered), rewritten response
// bodies; request counting. Requests of AWS JSON-protocol services (all on `POST /`) are told
// apart by their operation (the X-Amz-Target header, e.g. `PutSecretValue`). Controlled in-process (FaultProxy) or
// over a small HTTP control endpoint (FaultProxyClient / plain curl), so a child process can
// flip faults and read counts too.
//
// Control endpoint (plain HTTP on 127.0.0.1, JSON):
//   GET    /faults                 active rules
//   POST   /faults                 add a rule (FaultRule JSON) -> {"id": N}
//   DELETE /faults                 remove every rule;  DELETE /faults/N removes one
//   GET    /requests?method=&path=&operation= {"total", "count", "requests":[...]} (path: a PathPattern)
//   DELETE /requests               reset the request log and counters
//   POST   /reset                  remove every rule and reset the counters
import { randomUUID } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";

/**
 * Which requests a rule applies to. `path` is matched against the URL path (no query):
 * a string starting with `^` is a regular expression; otherwise a glob where `*` matches one
 * path segment and `**` any run of characters, e.g. `/api/v1/namespaces/*\/secrets/*`.
 */
export interface RequestMatch {
  method?: string;
  path?: string;
  /**
   * AWS JSON-protocol operation: the part of the X-Amz-Target header after its last ".", e.g.
   * `GetAuthorizationToken` (ECR) or `PutSecretValue` (Secrets Manager). Requests without the
   * header never match a rule that names one.
   */
  operation?: string;
}

export type Fault =
  /** Delay the request this many milliseconds before forwarding it. Stacks with other faults. */
  | { kind: "latency"; ms: number }
  /**
   * Answer with this status instead of forwarding (default body: a Kubernetes `Status` object).
   * `retryAfter` sets the Retry-After header (seconds, or an HTTP date string).
   * `afterUpstream: true` forwards the request first (the upstream applies it) and then answers
   * with this status instead of the upstream's response.
   */
  | { kind: "status"; status: number; retryAfter?: number | string; body?: string; contentType?: string; afterUpstream?: boolean }
  /**
   * Destroy the client connection without an answer. `afterUpstream: true` forwards the request
   * first (the write happens) and then drops the connection instead of answering.
   */
  | { kind: "drop"; afterUpstream?: boolean }
  /** Stream the upstream response body in `chunkBytes` pieces, `delayMs` apart. Stacks. */
  | { kind: "slow"; chunkBytes?: number; delayMs: number }
  /**
   * Accept the request and never answer (nor forward it): the connection stays open until the
   * client gives up or the proxy stops. What a silent endpoint looks like to a client.
   */
  | { kind: "hang" }
  /**
   * Forward, then replace every match of the regular expression `pattern` (flags "g") in the
   * upstream response body with `replacement` (String.replace syntax). Stacks.
   */
  | { kind: "rewrite"; pattern: string; replacement: string };

export interface FaultRule {
  fault: Fault;
  match?: RequestMatch;
  /** Apply to the next N matching requests only (default: every matching request until removed). */
  times?: number;
  /** Let the first N matching requests through untouched, then apply (default 0). */
  skip?: number;
  /** Apply to this fraction (0..1) of matching requests (random; default 1). */
  fraction?: number;
}

export interface ActiveRule extends FaultRule {
  id: number;
  /** How many times the rule has been applied. */
  applied: number;
  /** How many matching requests it let through because of `skip`. */
  skipped: number;
}

export interface RequestRecord {
  seq: number;
  method: string;
  path: string;
  /** AWS JSON-protocol operation (see RequestMatch.operation), when the request named one. */
  operation?: string;
  query: string;
  /** Kinds of the faults applied to this request (e.g. ["latency", "status"]). */
  faults: string[];
  /** Status the client got (undefined for a dropped connection or one still in flight). */
  status?: number;
  /** "dropped" | "hung" | "upstream-error" | undefined. */
  outcome?: string;
}

export interface RequestQuery {
  method?: string;
  path?: string;
  operation?: string;
}

export interface FaultProxyOptions {
  /** Upstream base URL, e.g. https://127.0.0.1:6443 or http://127.0.0.1:5000. */
  target: string;
  /** PEM CA bundle that verifies an https upstream. */
  targetCa?: string | Buffer;
  /** Serve TLS with this certificate and key (PEM); plain HTTP when absent. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Listen port (default: any free port). */
  port?: number;
  /** Start the HTTP control endpoint (default true). */
  control?: boolean;
  /**
   * Rewrites each request's path and query before it is forwarded (the log keeps what the client
   * sent). The fleet benchmark uses it to give each of several "clusters" on one API server its
   * own namespaces (a label selector rewritten per proxy).
   */
  rewriteUrl?: (url: string) => string;
}

const STATUS_REASON: Record<number, string> = {
  429: "TooManyRequests",
  500: "InternalError",
  502: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

function kubeStatusBody(status: number, retryAfter?: number | string): string {
  const details = typeof retryAfter === "number" ? { retryAfterSeconds: retryAfter } : {};
  return JSON.stringify({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: `fault injected by the test bed proxy: ${status}`,
    reason: STATUS_REASON[status] ?? "Unknown",
    details,
    code: status,
  });
}

/** Compiles a PathPattern (see RequestMatch.path) into a RegExp. */
export function pathPattern(pattern: string): RegExp {
  if (pattern.startsWith("^")) return new RegExp(pattern);
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*" && pattern[i + 1] === "*") {
      source += ".*";
      i++;
    } else if (c === "*") {
      source += "[^/]*";
    } else {
      source += c.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
    }
  }
  return new RegExp(`^${source}$`);
}

function matches(match: RequestMatch | undefined, method: string, path: string, operation: string | undefined): boolean {
  if (!match) return true;
  if (match.method && match.method.toUpperCase() !== method.toUpperCase()) return false;
  if (match.path && !pathPattern(match.path).test(path)) return false;
  if (match.operation && match.operation !== operation) return false;
  return true;
}

/** The operation of an AWS JSON-protocol request: X-Amz-Target `Service_Version.Operation`. */
function operationOf(req: IncomingMessage): string | undefined {
  const target = req.headers["x-amz-target"];
  const value = Array.isArray(target) ? target[0] : target;
  if (!value) return undefined;
  return value.slice(value.lastIndexOf(".") + 1);
}

function validateRule(rule: FaultRule): void {
  const f = rule?.fault as Fault | undefined;
  if (!f || typeof f !== "object") throw new Error("rule.fault is required");
  switch (f.kind) {
    case "latency":
      if (!(f.ms >= 0)) throw new Error("latency.ms must be >= 0");
      break;
    case "status":
      if (!(Number.isInteger(f.status) && f.status >= 100 && f.status <= 599)) throw new Error("status.status must be an HTTP status");
      break;
    case "drop":
      break;
    case "slow":
      if (!(f.delayMs >= 0)) throw new Error("slow.delayMs must be >= 0");
      break;
    case "hang":
      break;
    case "rewrite":
      if (typeof f.pattern !== "string" || typeof f.replacement !== "string") throw new Error("rewrite needs pattern and replacement strings");
      new RegExp(f.pattern, "g");
      break;
    default:
      throw new Error(`unknown fault kind ${(f as { kind?: unknown }).kind as string}`);
  }
  if (rule.times !== undefined && !(Number.isInteger(rule.times) && rule.times >= 0)) throw new Error("times must be a non-negative integer");
  if (rule.fraction !== undefined && !(rule.fraction >= 0 && rule.fraction <= 1)) throw new Error("fraction must be within 0..1");
  if (rule.skip !== undefined && !(Number.isInteger(rule.skip) && rule.skip >= 0)) throw new Error("skip must be a non-negative integer");
  if (rule.match?.path) pathPattern(rule.match.path);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class FaultProxy {
  /** Where clients connect (https:// when tls was given). */
  url = "";
  /** The control endpoint (http://127.0.0.1:PORT), "" when control is off. */
  controlUrl = "";
  readonly id = randomUUID();

  private rules: ActiveRule[] = [];
  private globalLatencyRule: number | undefined;
  private nextRuleId = 1;
  private log: RequestRecord[] = [];
  private seq = 0;
  private server!: http.Server | https.Server;
  private controlServer: http.Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly target: URL;
  private readonly agent: http.Agent | https.Agent;

  private constructor(private readonly options: FaultProxyOptions) {
    this.target = new URL(options.target);
    this.agent =
      this.target.protocol === "https:"
        ? new https.Agent({ keepAlive: true, ca: options.targetCa, maxSockets: 64 })
        : new http.Agent({ keepAlive: true, maxSockets: 64 });
  }

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(options);
    await proxy.listen();
    return proxy;
  }

  // ---------------------------------------------------------------- object API

  /** Adds a rule; returns its id (for removeFault). */
  addFault(rule: FaultRule): number {
    validateRule(rule);
    const id = this.nextRuleId++;
    this.rules.push({ ...rule, id, applied: 0, skipped: 0 });
    return id;
  }

  removeFault(id: number): void {
    this.rules = this.rules.filter((r) => r.id !== id);
  }

  clearFaults(): void {
    this.rules = [];
    this.globalLatencyRule = undefined;
  }

  faults(): ActiveRule[] {
    return this.rules.map((r) => ({ ...r }));
  }

  /** Adds `ms` of latency to every matching request (until removed) or the next `times`. */
  latency(ms: number, opts: { match?: RequestMatch; times?: number } = {}): number {
    return this.addFault({ fault: { kind: "latency", ms }, ...opts });
  }

  /**
   * Sets the latency added to every request (replacing the one set by an earlier setLatency;
   * 0 removes it). Other latency rules (from latency()/addFault) are kept.
   */
  setLatency(ms: number): void {
    if (this.globalLatencyRule !== undefined) this.removeFault(this.globalLatencyRule);
    this.globalLatencyRule = ms > 0 ? this.latency(ms) : undefined;
  }

  /** The next `n` matching requests get 429 with `Retry-After: retryAfterSeconds`. */
  throttle(n: number, retryAfterSeconds: number | string = 1, opts: { match?: RequestMatch; fraction?: number } = {}): number {
    return this.addFault({ fault: { kind: "status", status: 429, retryAfter: retryAfterSeconds }, times: n, ...opts });
  }

  /** The next `n` matching requests get `status` (e.g. 500, 503). */
  failNext(
    n: number,
    status = 503,
    opts: { match?: RequestMatch; fraction?: number; skip?: number; afterUpstream?: boolean; retryAfter?: number; body?: string; contentType?: string } = {},
  ): number {
    const { afterUpstream, retryAfter, body, contentType, ...rest } = opts;
    return this.addFault({ fault: { kind: "status", status, afterUpstream, retryAfter, body, contentType }, times: n, ...rest });
  }

  /** The next `n` matching requests have their connection destroyed without an answer. */
  dropNext(n: number, opts: { match?: RequestMatch; fraction?: number; skip?: number; afterUpstream?: boolean } = {}): number {
    const { afterUpstream, ...rest } = opts;
    return this.addFault({ fault: { kind: "drop", afterUpstream }, times: n, ...rest });
  }

  /** Responses trickle out `chunkBytes` at a time, `delayMs` apart. */
  slow(delayMs: number, opts: { chunkBytes?: number; match?: RequestMatch; times?: number } = {}): number {
    const { chunkBytes, ...rest } = opts;
    return this.addFault({ fault: { kind: "slow", delayMs, chunkBytes }, ...rest });
  }

  /** Matching requests are never answered (every one until removed, or the next `times`). */
  hang(opts: { match?: RequestMatch; times?: number } = {}): number {
    return this.addFault({ fault: { kind: "hang" }, ...opts });
  }

  /** Rewrites matching response bodies (see Fault "rewrite"). */
  rewrite(pattern: string, replacement: string, opts: { match?: RequestMatch; times?: number } = {}): number {
    return this.addFault({ fault: { kind: "rewrite", pattern, replacement }, ...opts });
  }

  /** Requests seen since the last reset, optionally filtered by method and path pattern. */
  requests(query: RequestQuery = {}): RequestRecord[] {
    const re = query.path ? pathPattern(query.path) : undefined;
    return this.log
      .filter(
        (r) => (!query.method || r.method === query.method.toUpperCase()) && (!re || re.test(r.path)) && (!query.operation || r.operation === query.operation),
      )
      .map((r) => ({ ...r, faults: [...r.faults] }));
  }

  /** Number of requests seen since the last reset, optionally filtered. */
  count(query: RequestQuery = {}): number {
    return query.method || query.path || query.operation ? this.requests(query).length : this.log.length;
  }

  /** Alias of count(). */
  requestCount(query: RequestQuery = {}): number {
    return this.count(query);
  }

  /** Counts grouped by "METHOD path". */
  countsByRoute(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.log) {
      const key = `${r.method} ${r.path}${r.operation ? ` ${r.operation}` : ""}`;
      out[key] = (out[key] ?? 0) + 1;
    }
    return out;
  }

  resetCounts(): void {
    this.log = [];
  }

  /** Removes every rule and resets the counters. */
  reset(): void {
    this.clearFaults();
    this.resetCounts();
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.agent.destroy();
    const closing = [new Promise<void>((r) => this.server.close(() => r()))];
    if (this.controlServer) {
      this.controlServer.closeAllConnections();
      closing.push(new Promise<void>((r) => this.controlServer!.close(() => r())));
    }
    await Promise.all(closing);
  }

  // ---------------------------------------------------------------- proxying

  private pick(
    method: string,
    path: string,
    operation: string | undefined,
  ): {
    latency: number;
    slow?: { chunkBytes: number; delayMs: number };
    rewrites: { pattern: string; replacement: string }[];
    terminal?: Fault;
    kinds: string[];
  } {
    let latency = 0;
    let slow: { chunkBytes: number; delayMs: number } | undefined;
    const rewrites: { pattern: string; replacement: string }[] = [];
    let terminal: Fault | undefined;
    const kinds: string[] = [];
    for (const rule of this.rules) {
      if (!matches(rule.match, method, path, operation)) continue;
      if (rule.times !== undefined && rule.applied >= rule.times) continue;
      if (rule.skip !== undefined && rule.skipped < rule.skip) {
        rule.skipped++;
        continue;
      }
      const isTerminal = rule.fault.kind === "status" || rule.fault.kind === "drop" || rule.fault.kind === "hang";
      if (isTerminal && terminal) continue;
      if (rule.fraction !== undefined && Math.random() >= rule.fraction) continue;
      rule.applied++;
      kinds.push(rule.fault.kind);
      if (rule.fault.kind === "latency") latency += rule.fault.ms;
      else if (rule.fault.kind === "slow") slow = { chunkBytes: rule.fault.chunkBytes ?? 64, delayMs: rule.fault.delayMs };
      else if (rule.fault.kind === "rewrite") rewrites.push({ pattern: rule.fault.pattern, replacement: rule.fault.replacement });
      else terminal = rule.fault;
    }
    // Rules used up are removed, so `faults()` shows what is still armed.
    this.rules = this.rules.filter((r) => r.times === undefined || r.applied < r.times);
    return { latency, slow, rewrites, terminal, kinds };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? "GET").toUpperCase();
    const rawUrl = req.url ?? "/";
    const q = rawUrl.indexOf("?");
    const path = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
    const operation = operationOf(req);
    const record: RequestRecord = { seq: ++this.seq, method, path, ...(operation ? { operation } : {}), query: q >= 0 ? rawUrl.slice(q + 1) : "", faults: [] };
    this.log.push(record);
    const plan = this.pick(method, path, operation);
    record.faults = plan.kinds;
    if (plan.latency > 0) await sleep(plan.latency);

    const t = plan.terminal;
    if (t && !("afterUpstream" in t && t.afterUpstream)) {
      req.resume();
      if (t.kind === "drop") {
        record.outcome = "dropped";
        req.socket.destroy();
        return;
      }
      if (t.kind === "hang") {
        // Never answer; the socket is destroyed when the client gives up or the proxy stops.
        record.outcome = "hung";
        return;
      }
      if (t.kind === "status") {
        this.answer(res, record, t);
        return;
      }
    }

    const upstreamReq = (this.target.protocol === "https:" ? https : http).request({
      protocol: this.target.protocol,
      hostname: this.target.hostname,
      port: this.target.port,
      method,
      path: this.options.rewriteUrl ? this.options.rewriteUrl(rawUrl) : rawUrl,
      headers: { ...req.headers, host: this.target.host },
      agent: this.agent,
    });
    upstreamReq.on("error", (error) => {
      record.outcome = "upstream-error";
      if (!res.headersSent) {
        res.writeHead(502, { "content-type": "text/plain" });
        res.end(`fault proxy: upstream error: ${error.message}`);
        record.status = 502;
      } else {
        res.destroy();
      }
    });
    upstreamReq.on("response", (upstreamRes) => {
      if (t && t.kind === "drop") {
        upstreamRes.resume();
        upstreamRes.on("end", () => {
          record.outcome = "dropped";
          req.socket.destroy();
        });
        return;
      }
      if (t && t.kind === "status") {
        upstreamRes.resume();
        upstreamRes.on("end", () => this.answer(res, record, t));
        return;
      }
      record.status = upstreamRes.statusCode ?? 502;
      if (plan.rewrites.length > 0) {
        void this.rewriteBody(upstreamRes, res, plan.rewrites);
        return;
      }
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, upstreamRes.rawHeaders);
      if (plan.slow) void this.trickle(upstreamRes, res, plan.slow);
      else upstreamRes.pipe(res);
    });
    req.on("aborted", () => upstreamReq.destroy());
    res.on("close", () => {
      if (!res.writableFinished) upstreamReq.destroy();
    });
    req.pipe(upstreamReq);
  }

  private answer(res: ServerResponse, record: RequestRecord, fault: Extract<Fault, { kind: "status" }>): void {
    const body = fault.body ?? kubeStatusBody(fault.status, fault.retryAfter);
    const headers: Record<string, string> = { "content-type": fault.contentType ?? "application/json" };
    if (fault.retryAfter !== undefined) headers["retry-after"] = String(fault.retryAfter);
    record.status = fault.status;
    res.writeHead(fault.status, headers);
    res.end(body);
  }

  /** Buffers the upstream body, applies the rewrites, answers with a corrected length. */
  private async rewriteBody(from: IncomingMessage, to: ServerResponse, rewrites: { pattern: string; replacement: string }[]): Promise<void> {
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of from) chunks.push(chunk as Buffer);
      let body = Buffer.concat(chunks).toString("utf8");
      for (const r of rewrites) body = body.replace(new RegExp(r.pattern, "g"), r.replacement);
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(from.headers)) {
        if (value !== undefined && !["content-length", "transfer-encoding", "content-encoding"].includes(name)) headers[name] = value;
      }
      headers["content-length"] = String(Buffer.byteLength(body));
      to.writeHead(from.statusCode ?? 502, from.statusMessage, headers);
      to.end(body);
    } catch {
      to.destroy();
    }
  }

  private async trickle(from: IncomingMessage, to: ServerResponse, slow: { chunkBytes: number; delayMs: number }): Promise<void> {
    try {
      for await (const chunk of from) {
        const buf = chunk as Buffer;
        for (let i = 0; i < buf.length; i += slow.chunkBytes) {
          if (to.destroyed) return;
          to.write(buf.subarray(i, i + slow.chunkBytes));
          await sleep(slow.delayMs);
        }
      }
      to.end();
    } catch {
      to.destroy();
    }
  }

  private async listen(): Promise<void> {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(`fault proxy error: ${String(error)}`);
      });
    };
    this.server = this.options.tls ? https.createServer({ cert: this.options.tls.cert, key: this.options.tls.key }, handler) : http.createServer(handler);
    this.server.keepAliveTimeout = 30_000;
    const track = (socket: Socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    };
    this.server.on(this.options.tls ? "secureConnection" : "connection", track);
    if (this.options.tls) this.server.on("connection", track);
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.options.port ?? 0, "127.0.0.1", () => resolve());
    });
    const port = (this.server.address() as AddressInfo).port;
    this.url = `${this.options.tls ? "https" : "http"}://127.0.0.1:${port}`;
    if (this.options.control !== false) {
      this.controlServer = http.createServer((req, res) => {
        this.control(req, res).catch((error: unknown) => {
          res.writeHead(400, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: error instanceof Error ? error.message : String(error) }));
        });
      });
      await new Promise<void>((resolve, reject) => {
        this.controlServer!.once("error", reject);
        this.controlServer!.listen(0, "127.0.0.1", () => resolve());
      });
      this.controlUrl = `http://127.0.0.1:${(this.controlServer.address() as AddressInfo).port}`;
    }
  }

  private async control(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://control");
    const method = req.method ?? "GET";
    const send = (status: number, body?: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(body === undefined ? "" : JSON.stringify(body));
    };
    const readJson = async (): Promise<unknown> => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      return JSON.parse(Buffer.concat(chunks).toString("utf8") || "null");
    };
    if (url.pathname === "/faults" && method === "GET") return send(200, this.faults());
    if (url.pathname === "/faults" && method === "POST") return send(200, { id: this.addFault((await readJson()) as FaultRule) });
    if (url.pathname === "/faults" && method === "DELETE") {
      this.clearFaults();
      return send(200, {});
    }
    const one = /^\/faults\/(\d+)$/.exec(url.pathname);
    if (one && method === "DELETE") {
      this.removeFault(Number(one[1]));
      return send(200, {});
    }
    if (url.pathname === "/requests" && method === "GET") {
      const query: RequestQuery = {};
      const m = url.searchParams.get("method");
      const p = url.searchParams.get("path");
      const o = url.searchParams.get("operation");
      if (m) query.method = m;
      if (p) query.path = p;
      if (o) query.operation = o;
      const list = this.requests(query);
      return send(200, { total: this.log.length, count: list.length, requests: list, byRoute: this.countsByRoute() });
    }
    if (url.pathname === "/requests" && method === "DELETE") {
      this.resetCounts();
      return send(200, {});
    }
    if (url.pathname === "/reset" && method === "POST") {
      this.reset();
      return send(200, {});
    }
    send(404, { error: `no control route ${method} ${url.pathname}` });
  }
}

/** Controls a FaultProxy over its HTTP control endpoint (for child processes). */
export class FaultProxyClient {
  constructor(readonly controlUrl: string) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.controlUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`fault proxy control ${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async addFault(rule: FaultRule): Promise<number> {
    return (await this.call<{ id: number }>("POST", "/faults", rule)).id;
  }
  async removeFault(id: number): Promise<void> {
    await this.call("DELETE", `/faults/${id}`);
  }
  async clearFaults(): Promise<void> {
    await this.call("DELETE", "/faults");
  }
  faults(): Promise<ActiveRule[]> {
    return this.call("GET", "/faults");
  }
  latency(ms: number, opts: { match?: RequestMatch; times?: number } = {}): Promise<number> {
    return this.addFault({ fault: { kind: "latency", ms }, ...opts });
  }
  throttle(n: number, retryAfterSeconds: number | string = 1, opts: { match?: RequestMatch; fraction?: number } = {}): Promise<number> {
    return this.addFault({ fault: { kind: "status", status: 429, retryAfter: retryAfterSeconds }, times: n, ...opts });
  }
  failNext(n: number, status = 503, opts: { match?: RequestMatch; fraction?: number; afterUpstream?: boolean; retryAfter?: number } = {}): Promise<number> {
    const { afterUpstream, retryAfter, ...rest } = opts;
    return this.addFault({ fault: { kind: "status", status, afterUpstream, retryAfter }, times: n, ...rest });
  }
  dropNext(n: number, opts: { match?: RequestMatch; fraction?: number; afterUpstream?: boolean } = {}): Promise<number> {
    const { afterUpstream, ...rest } = opts;
    return this.addFault({ fault: { kind: "drop", afterUpstream }, times: n, ...rest });
  }
  slow(delayMs: number, opts: { chunkBytes?: number; match?: RequestMatch; times?: number } = {}): Promise<number> {
    const { chunkBytes, ...rest } = opts;
    return this.addFault({ fault: { kind: "slow", delayMs, chunkBytes }, ...rest });
  }
  hang(opts: { match?: RequestMatch; times?: number } = {}): Promise<number> {
    return this.addFault({ fault: { kind: "hang" }, ...opts });
  }
  rewrite(pattern: string, replacement: string, opts: { match?: RequestMatch; times?: number } = {}): Promise<number> {
    return this.addFault({ fault: { kind: "rewrite", pattern, replacement }, ...opts });
  }
  async requests(query: RequestQuery = {}): Promise<RequestRecord[]> {
    return (await this.call<{ requests: RequestRecord[] }>("GET", `/requests?${new URLSearchParams(query as Record<string, string>).toString()}`)).requests;
  }
  async count(query: RequestQuery = {}): Promise<number> {
    return (await this.call<{ count: number }>("GET", `/requests?${new URLSearchParams(query as Record<string, string>).toString()}`)).count;
  }
  async countsByRoute(): Promise<Record<string, number>> {
    return (await this.call<{ byRoute: Record<string, number> }>("GET", "/requests")).byRoute;
  }
  async resetCounts(): Promise<void> {
    await this.call("DELETE", "/requests");
  }
  async reset(): Promise<void> {
    await this.call("POST", "/reset");
  }
}
