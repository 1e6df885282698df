/**
 * EKS bearer tokens cached per (cluster, region, signing identity) across warm Lambda invocations.
 * The signing identity is the role the credentials were assumed from (none: the function's own),
 * the access key id and a keyed hash of the secret key and session token: a token is reused only
 * for the very credentials it was signed with, so two entries of one cluster through different
 * roles, or a role changed between warm invocations, never share a token. The key holds no secret
 * in clear (the hash's key is random per process).
 * A token is reused while at least `minRemainingMs` (default 1 min) of its 14-minute window
 * (`expiresAt`, signing time + 14 min) remains; the URL itself is accepted for 15 min, so a
 * reused token always has ≥ 2 min of real validity. Concurrent requests for the same key share
 * one signing. A token signed "in the future" (the clock went back) is not reused.
 */
import { createHmac, randomBytes } from "node:crypto";
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
  /** The role `credentials` were assumed from; undefined for the function's own credentials. */
  roleArn?: string | undefined;
}

/** Per-process key of the credential fingerprint: the fingerprint cannot be checked against a guess elsewhere. */
const FINGERPRINT_KEY = randomBytes(32);

/** A keyed hash of the secret parts of the credentials (never kept in clear). */
function fingerprint(credentials: EksCredentials): string {
  return createHmac("sha256", FINGERPRINT_KEY)
    .update(JSON.stringify([credentials.secretAccessKey, credentials.sessionToken ?? null]))
    .digest("base64url");
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

  /** Cluster, region and signing identity: role, access key id, fingerprint of the secret parts. */
  static key(request: EksTokenRequest): string {
    const { region, clusterName, roleArn, credentials } = request;
    return JSON.stringify([region, clusterName, roleArn ?? null, credentials.accessKeyId, fingerprint(credentials)]);
  }

  /** A cached token with enough time left, or a freshly signed one. */
  async get(request: EksTokenRequest): Promise<EksToken> {
    const key = EksTokenCache.key(request);
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
      const { clusterName, region, credentials } = request;
      const token = await this.create({ clusterName, region, credentials, now });
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
      const [r, c, , a] = JSON.parse(key) as [string, string, string | null, string];
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
