/**
 * Fresh ECR tokens: one GetAuthorizationToken per region per invocation, decoded and checked
 * against the clock. The AWS call sits behind the narrow EcrApi interface.
 */
import { decodeAuthorizationToken, expiryEmbeddedInPassword, secondsUntil } from "../formats/ecr-token";
import { describeError, TokenFetchError } from "../shared/errors";
import { isDeadlineExceeded } from "../shared/deadline";
import { parseRegistryHost, type RegistryHost } from "../formats/registry-host";

export interface AuthorizationData {
  authorizationToken?: string | undefined;
  expiresAt?: Date | undefined;
  proxyEndpoint?: string | undefined;
}

/** The one ECR call the product makes. */
export interface EcrApi {
  getAuthorizationToken(region: string): Promise<AuthorizationData[]>;
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
  const expiresAt = entry.expiresAt ?? expiryEmbeddedInPassword(decoded.password);
  if (expiresAt === undefined || Number.isNaN(expiresAt.getTime())) throw new TokenFetchError(region, "the answer carries no expiry");
  const left = secondsUntil(expiresAt, now);
  if (left <= 0) throw new TokenFetchError(region, `token already expired at ${expiresAt.toISOString()} (now ${now.toISOString()})`);
  if (left < minValiditySeconds) {
    throw new TokenFetchError(region, `token expires at ${expiresAt.toISOString()}, in ${left} s: less than the required ${minValiditySeconds} s`);
  }
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

  get(region: string): Promise<RegionToken> {
    let pending = this.byRegion.get(region);
    if (pending === undefined) {
      this.calls += 1;
      pending = this.api.getAuthorizationToken(region).then(
        (data) => validateAuthorizationData(region, data, this.now(), this.minValiditySeconds),
        (error: unknown) => {
          // The deadline is reported as such (work skipped), not as a token problem.
          if (isDeadlineExceeded(error)) throw error;
          throw new TokenFetchError(region, describeError(error));
        },
      );
      this.byRegion.set(region, pending);
    }
    return pending;
  }

  async credentialFor(registry: RegistryHost): Promise<RegistryCredential> {
    const token = await this.get(registry.region);
    return {
      registry,
      username: token.username,
      password: token.password,
      expiresAt: token.expiresAt,
      proxyEndpoint: `https://${registry.host}`,
    };
  }
}
