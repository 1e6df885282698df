/**
 * The Secrets Manager contract ESO reads (docs/facts.md §3).
 */
import { describe, expect, it } from "vitest";
import { credentialsOfEntry, parseDockerConfig } from "../../src/formats/dockerconfig";
import type { RegistryCredential } from "../../src/rotation/ecr";
import { parseRegistryHost } from "../../src/formats/registry-host";
import { combinedSecretValue, registrySecretValue } from "../../src/rotation/secret-payload";
import { encodeSecretValue, parseSecretValue } from "../../src/formats/secret-value";
import { EXPIRES, HOST_EUW1, HOST_OTHER_ACCOUNT_USE1, HOST_USE1, PASSWORD, USERNAME } from "../support/fixtures";

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

function credential(host: string, opts: { password?: string; expiresAt?: Date } = {}): RegistryCredential {
  return {
    registry: parseRegistryHost(host),
    username: USERNAME,
    password: opts.password ?? PASSWORD,
    expiresAt: opts.expiresAt ?? EXPIRES,
    proxyEndpoint: `https://${host}`,
  };
}

describe("registrySecretValue", () => {
  const value = registrySecretValue(credential(HOST_USE1));

  it("has exactly the six documented properties, in the documented order", () => {
    expect(Object.keys(value)).toEqual(["registry_url", "auth_token", "username", "proxy_endpoint", "expires_at", "dockerconfigjson"]);
  });

  it("registry_url is the bare host (no scheme, no path), as in image references", () => {
    expect(value.registry_url).toBe(HOST_USE1);
    expect(value.registry_url).not.toMatch(/^https?:|\//);
  });

  it("auth_token is the password part of the decoded token (not the raw base64 token)", () => {
    expect(value.auth_token).toBe(PASSWORD);
    expect(value.auth_token).not.toBe(b64(`AWS:${PASSWORD}`));
  });

  it("username is AWS; proxy_endpoint is https://<registry_url>", () => {
    expect(value.username).toBe("AWS");
    expect(value.proxy_endpoint).toBe(`https://${value.registry_url}`);
  });

  it("expires_at is ISO-8601 UTC with milliseconds", () => {
    expect(value.expires_at).toBe(EXPIRES.toISOString());
    expect(value.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it("dockerconfigjson is a JSON string whose single entry's auth decodes to AWS:<password>", () => {
    expect(typeof value.dockerconfigjson).toBe("string");
    const config = parseDockerConfig(value.dockerconfigjson);
    expect(Object.keys(config.auths)).toEqual([HOST_USE1]);
    const entry = config.auths[HOST_USE1]!;
    expect(entry).toEqual({ username: "AWS", password: PASSWORD, auth: b64(`AWS:${PASSWORD}`) });
    expect(Buffer.from(entry.auth!, "base64").toString("utf8")).toBe(`AWS:${PASSWORD}`);
    expect(credentialsOfEntry(entry)).toEqual({ username: "AWS", password: PASSWORD });
  });

  it("the whole SecretString round-trips through JSON", () => {
    expect(JSON.parse(JSON.stringify(value))).toEqual(value);
  });

  // The ExternalSecret template in docs/facts.md §3 (the one users copy) builds its
  // .dockerconfigjson from registry_url and auth_token; it must describe the same login as the
  // ready-made dockerconfigjson property. (test/ renders it with Go text/template + sprig too.)
  it("the ExternalSecret template of docs/facts.md §3, fed registry_url and auth_token, yields the same docker config", () => {
    const registry = value.registry_url;
    const token = value.auth_token;
    const rendered = `{"auths":{"${registry}":{"username":"AWS","password":"${token}","auth":"${b64(`AWS:${token}`)}"}}}`;
    expect(JSON.parse(rendered)).toEqual(JSON.parse(value.dockerconfigjson));
  });

  it("dual-stack, FIPS and China hosts are carried verbatim", () => {
    for (const host of [
      "123456789012.dkr-ecr.eu-west-1.on.aws",
      "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
      "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
    ]) {
      const v = registrySecretValue(credential(host));
      expect(v.registry_url).toBe(host);
      expect(v.proxy_endpoint).toBe(`https://${host}`);
      expect(Object.keys(parseDockerConfig(v.dockerconfigjson).auths)).toEqual([host]);
    }
  });

  it("what it writes is accepted back by parseSecretValue as a registry secret", () => {
    expect(parseSecretValue(encodeSecretValue(value), "registry")).toEqual({ ok: true, stored: { kind: "registry", value: { ...value } } });
  });
});

describe("combinedSecretValue", () => {
  const early = new Date(EXPIRES.getTime() - 3600_000);
  const combined = combinedSecretValue([
    credential(HOST_USE1, { password: "use1-password" }),
    credential(HOST_EUW1, { password: "euw1-password", expiresAt: early }),
    credential(HOST_OTHER_ACCOUNT_USE1, { password: "use1-password" }),
  ]);

  it("lists every registry, sorted", () => {
    expect(combined.registries).toEqual([HOST_USE1, HOST_EUW1, HOST_OTHER_ACCOUNT_USE1].sort());
  });

  it("expires_at is the earliest expiry of all (the whole secret is only as good as its first token to expire)", () => {
    expect(combined.expires_at).toBe(early.toISOString());
  });

  it("one dockerconfigjson holds one entry per registry, each with its own region's password", () => {
    const config = parseDockerConfig(combined.dockerconfigjson);
    expect(Object.keys(config.auths)).toEqual(combined.registries);
    expect(credentialsOfEntry(config.auths[HOST_EUW1]!)).toEqual({ username: "AWS", password: "euw1-password" });
    expect(credentialsOfEntry(config.auths[HOST_USE1]!)).toEqual({ username: "AWS", password: "use1-password" });
    expect(credentialsOfEntry(config.auths[HOST_OTHER_ACCOUNT_USE1]!)).toEqual({ username: "AWS", password: "use1-password" });
  });

  it("has no loose token fields and is accepted back as a combined secret", () => {
    expect(Object.keys(combined).sort()).toEqual(["dockerconfigjson", "expires_at", "registries"]);
    expect(parseSecretValue(encodeSecretValue(combined), "combined")).toEqual({ ok: true, stored: { kind: "combined", value: { ...combined } } });
  });

  it("refuses to build from no credentials (never an empty auths)", () => {
    expect(() => combinedSecretValue([])).toThrow();
  });
});
