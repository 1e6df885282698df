/**
 * Fresh ECR tokens: one GetAuthorizationToken per region per invocation, decoded and checked
 * against the clock. The AWS call sits behind the narrow EcrApi interface.
 */
import { decodeAuthorizationToken, expiryEmbeddedInPassword, isPlausibleExpiry, secondsUntil } from "../formats/ecr-token";
import { ECR_TOKEN_LIFETIME_SECONDS, EXPIRY_CLOCK_SKEW_SECONDS } from "../shared/names";
import { describeError, tokenCallFailure, TokenFetchError } from "../shared/errors";
import { isDeadlineExceeded } from "../shared/deadline";
import { ECR_PUBLIC_HOST, ECR_PUBLIC_REGISTRY, ECR_PUBLIC_REGION, parseRegistryHost, type RegistryHost } from "../formats/registry-host";

export interface AuthorizationData {
  authorizationToken?: string | undefined;
  expiresAt?: Date | undefined;
  proxyEndpoint?: string | undefined;
}

/** The ECR calls the product makes. */
export interface EcrApi {
  getAuthorizationToken(region: string): Promise<AuthorizationData[]>;
  /**
   * ECR Public `GetAuthorizationToken` (us-east-1 only): the token for `public.ecr.aws`.
   * Needed only when public.ecr.aws is configured; the SDK client loads on first use.
   */
  getPublicAuthorizationToken?(): Promise<PublicAuthorizationData>;
}

export interface PublicAuthorizationData {
  authorizationToken?: string | undefined;
  expiresAt?: Date | undefined;
}

export interface RegionToken {
  region: string;
  username: string;
  password: string;
  expiresAt: Date;
  /** The caller's own registry in that region, from `proxyEndpoint`. */
  ownRegistry: RegistryHost;
}

export interface RegistryCredential {
  registry: RegistryHost;
  username: string;
  password: string;
  expiresAt: Date;
  /** `https://<host>` */
  proxyEndpoint: string;
}

export { TokenFetchError };

/**
 * The expiry of a token ECR answered with, checked against the clock: refused when missing,
 * already past, too close (less than `minValiditySeconds`), or further ahead than an ECR token
 * lives (12 h plus the clock-skew margin: not a token issued now, or this clock is far behind).
 */
function checkedExpiry(where: string, expiresAt: Date | undefined, now: Date, minValiditySeconds: number): Date {
  if (expiresAt === undefined || Number.isNaN(expiresAt.getTime())) throw new TokenFetchError(where, "the answer carries no expiry");
  const left = secondsUntil(expiresAt, now);
  if (left <= 0) throw new TokenFetchError(where, `token already expired at ${expiresAt.toISOString()} (now ${now.toISOString()})`, { kind: "expired" });
  if (left < minValiditySeconds) {
    throw new TokenFetchError(where, `token expires at ${expiresAt.toISOString()}, in ${left} s: less than the required ${minValiditySeconds} s`, {
      kind: "too-short",
    });
  }
  if (!isPlausibleExpiry(expiresAt, now)) {
    const limit = `${ECR_TOKEN_LIFETIME_SECONDS / 3600} h + ${EXPIRY_CLOCK_SKEW_SECONDS / 60} min clock skew`;
    throw new TokenFetchError(
      where,
      `token expires at ${expiresAt.toISOString()}, in ${left} s: further ahead than an ECR token lives (${limit}; now ${now.toISOString()}), so it is not stored`,
      { kind: "too-long" },
    );
  }
  return expiresAt;
}

/** Validates one GetAuthorizationToken answer. Pure. */
export function validateAuthorizationData(region: string, data: AuthorizationData[], now: Date, minValiditySeconds: number): RegionToken {
  if (data.length !== 1) throw new TokenFetchError(region, `expected exactly one authorizationData entry, got ${data.length}`);
  const entry = data[0]!;
  let decoded;
  try {
    decoded = decodeAuthorizationToken(entry.authorizationToken);
  } catch (error) {
    throw new TokenFetchError(region, (error as Error).message);
  }
  const expiresAt = checkedExpiry(region, entry.expiresAt ?? expiryEmbeddedInPassword(decoded.password), now, minValiditySeconds);
  if (entry.proxyEndpoint === undefined) throw new TokenFetchError(region, "the answer carries no proxyEndpoint");
  let ownRegistry: RegistryHost;
  try {
    ownRegistry = parseRegistryHost(entry.proxyEndpoint);
  } catch (error) {
    throw new TokenFetchError(region, (error as Error).message);
  }
  if (ownRegistry.region !== region) {
    throw new TokenFetchError(region, `proxyEndpoint ${ownRegistry.host} is in ${ownRegistry.region}, not ${region}`);
  }
  return { region, username: decoded.username, password: decoded.password, expiresAt, ownRegistry };
}

/** Validates an ECR Public GetAuthorizationToken answer. Pure. */
export function validatePublicAuthorizationData(data: PublicAuthorizationData | undefined, now: Date, minValiditySeconds: number): RegionToken {
  const where = `${ECR_PUBLIC_HOST} (ECR Public, ${ECR_PUBLIC_REGION})`;
  let decoded;
  try {
    decoded = decodeAuthorizationToken(data?.authorizationToken);
  } catch (error) {
    throw new TokenFetchError(where, (error as Error).message);
  }
  const expiresAt = checkedExpiry(where, data?.expiresAt ?? expiryEmbeddedInPassword(decoded.password), now, minValiditySeconds);
  return { region: ECR_PUBLIC_REGION, username: decoded.username, password: decoded.password, expiresAt, ownRegistry: ECR_PUBLIC_REGISTRY };
}

/**
 * Memoises one token per region for the lifetime of an invocation, so every registry host of a
 * region (also other accounts' hosts) shares one ECR call.
 */
export class RegionTokens {
  private readonly byRegion = new Map<string, Promise<RegionToken>>();
  calls = 0;

  constructor(
    private readonly api: EcrApi,
    private readonly now: () => Date,
    private readonly minValiditySeconds: number,
  ) {}

  private publicPending: Promise<RegionToken> | undefined;

  /** The ECR Public token (one call per invocation, like a region's). */
  getPublic(): Promise<RegionToken> {
    if (this.publicPending === undefined) {
      this.calls += 1;
      const where = `${ECR_PUBLIC_HOST} (ECR Public, ${ECR_PUBLIC_REGION})`;
      const call = this.api.getPublicAuthorizationToken
        ? this.api.getPublicAuthorizationToken()
        : Promise.reject(new Error("this ECR client has no ECR Public support"));
      this.publicPending = call.then(
        (data) => validatePublicAuthorizationData(data, this.now(), this.minValiditySeconds),
        (error: unknown) => {
          // The deadline is reported as such (work skipped), not as a token problem.
          if (isDeadlineExceeded(error)) throw error;
          throw new TokenFetchError(where, describeError(error), tokenCallFailure(error));
        },
      );
    }
    return this.publicPending;
  }

  get(region: string): Promise<RegionToken> {
    let pending = this.byRegion.get(region);
    if (pending === undefined) {
      this.calls += 1;
      pending = this.api.getAuthorizationToken(region).then(
        (data) => validateAuthorizationData(region, data, this.now(), this.minValiditySeconds),
        (error: unknown) => {
          // The deadline is reported as such (work skipped), not as a token problem.
          if (isDeadlineExceeded(error)) throw error;
          throw new TokenFetchError(region, describeError(error), tokenCallFailure(error));
        },
      );
      this.byRegion.set(region, pending);
    }
    return pending;
  }

  async credentialFor(registry: RegistryHost): Promise<RegistryCredential> {
    const token = registry.public ? await this.getPublic() : await this.get(registry.region);
    return {
      registry,
      username: token.username,
      password: token.password,
      expiresAt: token.expiresAt,
      proxyEndpoint: `https://${registry.host}`,
    };
  }
}
