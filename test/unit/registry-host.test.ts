/**
 * ECR registry hosts (docs/facts.md §2). The yardstick is the public test
 * vectors of the kubelet's credential provider and the ECR credential helper:
 *  - kubernetes/cloud-provider-aws cmd/ecr-credential-provider/main_test.go
 *    (TestRegistryPatternMatch, Test_parseRegionFromECRPrivateHost, Test_parseHostFromImageReference,
 *    Test_GetCredentials_Private image references)
 *  - awslabs/amazon-ecr-credential-helper ecr-login/api/client_test.go (TestExtractRegistry)
 * The cases below restate those vectors in this project's terms.
 */
import { describe, expect, it } from "vitest";
import { InvalidRegistryHostError, hostOfImageReference, parseRegistryHost, registryHostFor, tryParseRegistryHost } from "../../src/formats/registry-host";

describe("parseRegistryHost: accepted forms (kubelet TestRegistryPatternMatch, true rows)", () => {
  it.each([
    // [host, account, region, fips, dualStack]
    ["123456789012.dkr.ecr.lala-land-1.amazonaws.com", "123456789012", "lala-land-1", false, false],
    ["123456789012.dkr.ecr-fips.lala-land-1.amazonaws.com", "123456789012", "lala-land-1", true, false],
    ["123456789012.dkr.ecr.lala-land-1.amazonaws.com.cn", "123456789012", "lala-land-1", false, false],
    ["123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov", "123456789012", "us-iso-east-1", false, false],
    ["123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov", "123456789012", "us-isob-east-1", false, false],
    ["123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk", "123456789012", "eu-isoe-west-1", false, false],
    ["123456789012.dkr.ecr.us-isof-east-1.csp.hci.ic.gov", "123456789012", "us-isof-east-1", false, false],
    ["123456789012.dkr-ecr.lala-land-1.on.aws", "123456789012", "lala-land-1", false, true],
    ["123456789012.dkr-ecr.lala-land-1.on.amazonwebservices.com.cn", "123456789012", "lala-land-1", false, true],
  ])("%s", (host, accountId, region, fips, dualStack) => {
    expect(parseRegistryHost(host)).toEqual({ host, accountId, region, fips, dualStack });
  });
});

// BUG (src/formats/registry-host.ts:53): dualStack is `host.includes(".dkr-ecr.")`, which misses the
// dual-stack FIPS form `dkr-ecr-fips.`. Remove `.fails` once fixed.
it("the dual-stack FIPS host 123456789012.dkr-ecr-fips.lala-land-1.on.aws is both FIPS and dual-stack", () => {
  expect(parseRegistryHost("123456789012.dkr-ecr-fips.lala-land-1.on.aws")).toEqual({
    host: "123456789012.dkr-ecr-fips.lala-land-1.on.aws",
    accountId: "123456789012",
    region: "lala-land-1",
    fips: true,
    dualStack: true,
  });
});

describe("parseRegistryHost: regions (kubelet Test_parseRegionFromECRPrivateHost)", () => {
  it.each([
    ["123456789123.dkr.ecr.us-west-2.amazonaws.com", "us-west-2"],
    ["123456789123.dkr.ecr.cn-north-1.amazonaws.com.cn", "cn-north-1"],
    ["123456789123.dkr.ecr.us-gov-east-1.amazonaws.com", "us-gov-east-1"],
    ["123456789123.dkr.ecr.us-iso-east-1.c2s.ic.gov", "us-iso-east-1"],
    ["123456789123.dkr-ecr.us-west-2.on.aws", "us-west-2"],
    ["123456789123.dkr-ecr-fips.us-west-2.on.aws", "us-west-2"],
    ["123456789123.dkr-ecr.cn-north-1.on.amazonwebservices.com.cn", "cn-north-1"],
    ["123456789123.dkr-ecr.us-gov-east-1.on.aws", "us-gov-east-1"],
    ["123456789123.dkr-ecr-fips.us-gov-east-1.on.aws", "us-gov-east-1"],
  ])("%s is in %s", (host, region) => {
    expect(parseRegistryHost(host).region).toBe(region);
  });
});

describe("parseRegistryHost: URL-ish forms (credential helper TestExtractRegistry, proxyEndpoint)", () => {
  it.each([
    ["123456789012.dkr.ecr.us-west-2.amazonaws.com", "123456789012", "us-west-2", false],
    ["123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", "123456789012", "us-gov-west-1", true],
    ["210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn", "210987654321", "cn-north-1", false],
    // proxyEndpoint carries the scheme; docker config keys may carry /v1/ or /v2/
    ["https://123456789012.dkr.ecr.us-east-1.amazonaws.com", "123456789012", "us-east-1", false],
    ["https://123456789012.dkr.ecr.us-east-1.amazonaws.com/", "123456789012", "us-east-1", false],
    ["https://123456789012.dkr.ecr.us-east-1.amazonaws.com/v2/", "123456789012", "us-east-1", false],
    ["http://123456789012.dkr.ecr.us-east-1.amazonaws.com/v1/", "123456789012", "us-east-1", false],
    ["HTTPS://123456789012.DKR.ECR.US-EAST-1.AMAZONAWS.COM", "123456789012", "us-east-1", false],
    ["  123456789012.dkr.ecr.us-east-1.amazonaws.com\n", "123456789012", "us-east-1", false],
  ])("%j", (input, accountId, region, fips) => {
    const parsed = parseRegistryHost(input);
    expect(parsed).toMatchObject({ accountId, region, fips });
    // the host is always bare: no scheme, no path, lower case — as in image references
    expect(parsed.host).toBe(`${accountId}.dkr.ecr${fips ? "-fips" : ""}.${region}.amazonaws.com${region.startsWith("cn-") ? ".cn" : ""}`);
  });
});

describe("parseRegistryHost: rejected look-alikes name the bad host", () => {
  it.each([
    // kubelet TestRegistryPatternMatch, false rows
    "1234567890123.dkr.ecr.lala-land-1.amazonaws.com", // 13-digit account
    "12345678901.dkr.ecr.lala-land-1.amazonaws.com", // 11-digit account
    "12345678901A.dkr.ecr.lala-land-1.amazonaws.com",
    "123456789012.dkr.ecr.lala-land-1!.amazonaws.com",
    "123456789012.dkr.ecr.#lala-land-1.amazonaws.com",
    "123456789012.dkr.ecr.lala-land-1.amazonaws.hacker.com",
    "123456789012.dkr.ecr.lala-land-1.hacker.com",
    "123456789012.dkr.ecr.lala-land-1.amazonaws.lol",
    "123456789012.dog.ecr.lala-land-1.amazonaws.com",
    "123456789012.dkr.cat.lala-land-1.amazonaws.com",
    "123456789012.dkr.cat.lala-land-1.awsamazon.com",
    "123456789012.lala-land-1.amazonaws.com",
    "123456789012.dkr.ecr.us-iso-east-1.amazonaws.gov",
    // credential helper TestExtractRegistry, error rows
    ".dkr.ecr.not-real.amazonaws.com",
    "not.ecr.io",
    // more: missing region, public ECR, a port, a suffix trick
    "123456789012.dkr.ecr.amazonaws.com",
    "public.ecr.aws",
    "123456789012.dkr.ecr.us-east-1.amazonaws.com:443",
    "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example",
    "evil.example/123456789012.dkr.ecr.us-east-1.amazonaws.com",
  ])("%s", (input) => {
    expect(() => parseRegistryHost(input)).toThrow(InvalidRegistryHostError);
    expect(() => parseRegistryHost(input)).toThrow(JSON.stringify(input));
    expect(tryParseRegistryHost(input)).toBeUndefined();
  });

  it("says what is expected", () => {
    expect(() => parseRegistryHost("123456789012.dkr.ecr.us-east-1.amazonaws.hacker.com")).toThrow(
      /expected <12-digit account>\.dkr\.ecr\[-fips\]\.<region>\.amazonaws\.com\[\.cn\]/,
    );
  });

  it("an empty or blank host is rejected as empty", () => {
    for (const input of ["", "   "]) {
      expect(() => parseRegistryHost(input)).toThrow(/: empty$/);
    }
  });

  // The credential helper's ExtractRegistry tolerates a repository path after the host
  // ("…amazonaws.com/v2/blah/blah", "…amazonaws.com.cn/foo"); a registry host here has none,
  // so a pasted image path is refused with a message naming the path.
  it.each([
    ["https://123456789012.dkr.ecr.us-east-1.amazonaws.com/v2/blah/blah", "/v2/blah/blah"],
    ["210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn/foo", "/foo"],
    ["123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:1.0", "/team/app:1.0"],
  ])("a repository path is refused: %s", (input, path) => {
    const error = (() => {
      try {
        parseRegistryHost(input);
      } catch (e) {
        return e as Error;
      }
      throw new Error("accepted");
    })();
    expect(error).toBeInstanceOf(InvalidRegistryHostError);
    expect(error.message).toContain(JSON.stringify(input));
    expect(error.message).toContain(`a registry host has no path (found ${JSON.stringify(path)})`);
    expect((error as InvalidRegistryHostError).input).toBe(input);
  });
});

describe("hostOfImageReference (kubelet Test_parseHostFromImageReference / Test_GetCredentials_Private)", () => {
  it.each([
    ["123456789123.dkr.ecr.us-west-2.amazonaws.com/foo/bar:1.0", "123456789123.dkr.ecr.us-west-2.amazonaws.com"],
    ["123456789123.dkr.ecr.us-west-2.amazonaws.com/public.ecr.aws/foo:latest", "123456789123.dkr.ecr.us-west-2.amazonaws.com"],
    ["registry.k8s.io/foo:latest", "registry.k8s.io"],
    [
      "123456789012.dkr-ecr.us-east-1.on.aws/team/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
      "123456789012.dkr-ecr.us-east-1.on.aws",
    ],
    ["localhost:5000/app:dev", "localhost:5000"],
    ["localhost/app", "localhost"],
    ["Registry.Example.COM/App", "registry.example.com"],
    // Docker Hub: no registry component
    ["nginx", "docker.io"],
    ["nginx:1.27", "docker.io"],
    ["library/nginx:1.27", "docker.io"],
    ["bitnami/redis@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "docker.io"],
  ])("%s → %s", (image, host) => {
    expect(hostOfImageReference(image)).toBe(host);
  });

  it("the host of an ECR image parses back to its registry", () => {
    const host = hostOfImageReference("123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments/api:v1.42.0");
    expect(parseRegistryHost(host)).toMatchObject({ accountId: "123456789012", region: "eu-west-1" });
  });
});

describe("registryHostFor: another account's host in the same region and partition", () => {
  it.each([
    ["123456789012.dkr.ecr.us-east-1.amazonaws.com", "210987654321.dkr.ecr.us-east-1.amazonaws.com"],
    ["123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", "210987654321.dkr.ecr-fips.us-gov-west-1.amazonaws.com"],
    ["123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn"],
    ["123456789012.dkr-ecr.eu-west-1.on.aws", "210987654321.dkr-ecr.eu-west-1.on.aws"],
  ])("%s → %s", (sampleHost, expected) => {
    const sample = parseRegistryHost(sampleHost);
    const host = registryHostFor("210987654321", sample);
    expect(host).toBe(expected);
    expect(parseRegistryHost(host)).toMatchObject({ accountId: "210987654321", region: sample.region, fips: sample.fips, dualStack: sample.dualStack });
  });

  it("works from a proxyEndpoint-derived host (scheme stripped)", () => {
    const own = parseRegistryHost("https://123456789012.dkr.ecr.ap-southeast-2.amazonaws.com");
    expect(registryHostFor("000000000001", own)).toBe("000000000001.dkr.ecr.ap-southeast-2.amazonaws.com");
  });
});
