/**
 * EKS bearer tokens cached per (cluster, region, access key id) across warm Lambda invocations.
 * A token is reused while at least `minRemainingMs` (default 1 min) of its 14-minute window
 * (`expiresAt`, signing time + 14 min) remains; the URL itself is accepted for 15 min, so a
 * reused token always has ≥ 2 min of real validity. Concurrent requests for the same key share
 * one signing. A token signed "in the future" (the clock went back) is not reused.
 */
import { EKS_TOKEN_LIFETIME_MS } from "../shared/names";
import { rememberSecret } from "../shared/redact";
import { createEksToken, EKS_TOKEN_PREFIX, type EksCredentials, type EksToken, type EksTokenParams } from "./token";

/** A reused token is in use again: it (and the presigned URL inside it) goes back on the live scrub list. */
function rememberReused(token: EksToken): EksToken {
  if (token.token.startsWith(EKS_TOKEN_PREFIX))
    rememberSecret(token.token, Buffer.from(token.token.slice(EKS_TOKEN_PREFIX.length), "base64url").toString("utf8"));
  else rememberSecret(token.token);
  return token;
}

export interface EksTokenCacheOptions {
  /** Injectable clock (default: the system clock). Also used as the signing time. */
  now?: () => Date;
  /** Reuse a token only while this much of its window remains (default 60 s). */
  minRemainingMs?: number;
  /** At most this many entries are kept (oldest evicted first; default 64). */
  maxEntries?: number;
  /** Token factory (default {@link createEksToken}); for tests. */
  create?: (params: EksTokenParams) => Promise<EksToken>;
}

export interface EksTokenRequest {
  clusterName: string;
  region: string;
  credentials: EksCredentials;
}

interface Entry {
  token: EksToken;
  signedAtMs: number;
}

const TOKEN_WINDOW_MS = EKS_TOKEN_LIFETIME_MS;

export class EksTokenCache {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<EksToken>>();
  private readonly now: () => Date;
  private readonly minRemainingMs: number;
  private readonly maxEntries: number;
  private readonly create: (params: EksTokenParams) => Promise<EksToken>;
  /** Tokens signed by this cache (not reuses); for tests and telemetry. */
  signed = 0;

  constructor(options: EksTokenCacheOptions = {}) {
    this.now = options.now ?? (() => new Date());
    this.minRemainingMs = options.minRemainingMs ?? 60_000;
    this.maxEntries = options.maxEntries ?? 64;
    this.create = options.create ?? createEksToken;
  }

  static key(clusterName: string, region: string, accessKeyId: string): string {
    return JSON.stringify([region, clusterName, accessKeyId]);
  }

  /** A cached token with enough time left, or a freshly signed one. */
  async get(request: EksTokenRequest): Promise<EksToken> {
    const key = EksTokenCache.key(request.clusterName, request.region, request.credentials.accessKeyId);
    const nowMs = this.now().getTime();
    const entry = this.entries.get(key);
    if (entry !== undefined) {
      if (this.usable(entry, nowMs)) return rememberReused(entry.token);
      this.entries.delete(key);
    }
    const inFlight = this.pending.get(key);
    if (inFlight !== undefined) return inFlight;
    const promise = (async () => {
      const now = new Date(nowMs);
      const token = await this.create({ ...request, now });
      this.signed += 1;
      this.entries.delete(key);
      this.entries.set(key, { token, signedAtMs: token.expiresAt.getTime() - TOKEN_WINDOW_MS });
      while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
      return token;
    })();
    this.pending.set(key, promise);
    try {
      return await promise;
    } finally {
      this.pending.delete(key);
    }
  }

  /** Drops cached tokens of a cluster (e.g. after the API server answered 401). */
  invalidate(clusterName: string, region: string, accessKeyId?: string): void {
    for (const key of [...this.entries.keys()]) {
      const [r, c, a] = JSON.parse(key) as [string, string, string];
      if (r === region && c === clusterName && (accessKeyId === undefined || a === accessKeyId)) this.entries.delete(key);
    }
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private usable(entry: Entry, nowMs: number): boolean {
    if (entry.signedAtMs > nowMs) return false;
    return entry.token.expiresAt.getTime() - nowMs >= this.minRemainingMs;
  }
}

/** The process-wide cache that survives warm Lambda invocations. */
export const eksTokenCache = new EksTokenCache();
