/**
 * Amazon ECR private registry hosts: parsing and validation.
 *
 * The pattern is the one used by the ECR credential helper and the kubelet's
 * ecr-credential-provider (standard, FIPS, China, dual-stack `dkr-ecr.<region>.on.aws`,
 * and the isolated partitions). Look-alikes (`amazonaws.hacker.com`, 11/13-digit accounts,
 * missing region) do not match.
 */
import { InvalidRegistryHostError } from "../shared/errors";
import { AWS_REGION_SOURCE } from "../shared/names";

const ECR_PRIVATE_HOST = new RegExp(
  `^(\\d{12})\\.dkr[.-]ecr(-fips)?\\.(${AWS_REGION_SOURCE})\\.(amazonaws\\.(?:com(?:\\.cn)?|eu)|on\\.(?:aws|amazonwebservices\\.com\\.cn)|sc2s\\.sgov\\.gov|c2s\\.ic\\.gov|cloud\\.adc-e\\.uk|csp\\.hci\\.ic\\.gov)$`,
);

export interface RegistryHost {
  /** The host exactly as it appears in image references: no scheme, no path. */
  readonly host: string;
  readonly accountId: string;
  readonly region: string;
  readonly fips: boolean;
  readonly dualStack: boolean;
  /** ECR Public (`public.ecr.aws`): its own token, from us-east-1 only. */
  readonly public?: boolean;
}

/** The ECR Public registry host and the only region that issues its tokens. */
export const ECR_PUBLIC_HOST = "public.ecr.aws";
export const ECR_PUBLIC_REGION = "us-east-1";
/** What `{account}` renders as in the secret name of `public.ecr.aws` (it has no account). */
export const ECR_PUBLIC_ACCOUNT = "public";

/** The ECR Public registry as a configured registry. */
export const ECR_PUBLIC_REGISTRY: RegistryHost = Object.freeze({
  host: ECR_PUBLIC_HOST,
  accountId: ECR_PUBLIC_ACCOUNT,
  region: ECR_PUBLIC_REGION,
  fips: false,
  dualStack: false,
  public: true,
});

export { InvalidRegistryHostError };

/**
 * Parses an ECR registry host. Accepts a bare host, or a URL-ish form with an `https://`/`http://`
 * scheme and an optional `/`, `/v1/` or `/v2/` path (as `proxyEndpoint` and docker config keys carry).
 */
export function parseRegistryHost(input: string): RegistryHost {
  const trimmed = input.trim();
  if (trimmed === "") throw new InvalidRegistryHostError(input, "empty");
  let rest = trimmed.replace(/^https?:\/\//i, "");
  const slash = rest.indexOf("/");
  if (slash >= 0) {
    const path = rest.slice(slash);
    if (!/^\/(v[12]\/?)?$/.test(path)) {
      throw new InvalidRegistryHostError(input, `a registry host has no path (found ${JSON.stringify(path)})`);
    }
    rest = rest.slice(0, slash);
  }
  const host = rest.toLowerCase();
  const match = ECR_PRIVATE_HOST.exec(host);
  if (!match) {
    throw new InvalidRegistryHostError(input, "expected <12-digit account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn] or <account>.dkr-ecr.<region>.on.aws");
  }
  const [, accountId, fips, region] = match as unknown as [string, string, string | undefined, string];
  return { host, accountId, region, fips: fips !== undefined, dualStack: /\.dkr-ecr(-fips)?\./.test(host) };
}

/**
 * A registry the product may be configured with: an ECR private registry host
 * ({@link parseRegistryHost}) or ECR Public, `public.ecr.aws` (with an optional `https://` and
 * `/`). Image paths under public.ecr.aws (`public.ecr.aws/alias/repo`) are not registries.
 */
export function parseConfiguredRegistry(input: string): RegistryHost {
  if (/^(https:\/\/)?public\.ecr\.aws\/?$/i.test(input.trim())) return ECR_PUBLIC_REGISTRY;
  try {
    return parseRegistryHost(input);
  } catch (error) {
    if (/^(https:\/\/)?public\.ecr\.aws\//i.test(input.trim())) {
      throw new InvalidRegistryHostError(input, `ECR Public is the registry ${ECR_PUBLIC_HOST}, without a path`);
    }
    if (error instanceof InvalidRegistryHostError) {
      throw new InvalidRegistryHostError(
        input,
        "expected <12-digit account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn], <account>.dkr-ecr.<region>.on.aws or public.ecr.aws (ECR Public)",
      );
    }
    throw error;
  }
}

/** Like parseRegistryHost, but returns undefined instead of throwing. */
export function tryParseRegistryHost(input: string): RegistryHost | undefined {
  try {
    return parseRegistryHost(input);
  } catch {
    return undefined;
  }
}

/**
 * The registry host of an image reference as the kubelet sees it
 * (`[host[:port]/]path[:tag|@digest]`); Docker Hub references yield `docker.io`.
 */
export function hostOfImageReference(image: string): string {
  const firstSlash = image.indexOf("/");
  if (firstSlash < 0) return "docker.io";
  const candidate = image.slice(0, firstSlash);
  if (candidate.includes(".") || candidate.includes(":") || candidate === "localhost") return candidate.toLowerCase();
  return "docker.io";
}

/** Builds the registry host of another account in the same region and partition as `sample`. */
export function registryHostFor(accountId: string, sample: RegistryHost): string {
  return sample.host.replace(/^\d{12}/, accountId);
}
