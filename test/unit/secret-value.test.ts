/**
 * The Secrets Manager value's codec (src/formats/secret-value.ts): what it encodes, what it reads
 * back, and the typed refusal for a value that is not the product's — never quoting a secret.
 */
import { describe, expect, it } from "vitest";
import {
  COMBINED_VALUE_KEYS,
  describeSecretValueProblem,
  encodeSecretValue,
  parseSecretValue,
  REGISTRY_VALUE_KEYS,
  secretKindOf,
  storedExpiry,
  type CombinedSecretValue,
  type RegistrySecretValue,
  type SecretKind,
} from "../../src/formats/secret-value";
import { EXPIRES, HOST_EUW1, HOST_USE1, PASSWORD } from "../support/fixtures";

const registryValue: RegistrySecretValue = {
  registry_url: HOST_USE1,
  auth_token: PASSWORD,
  username: "AWS",
  proxy_endpoint: `https://${HOST_USE1}`,
  expires_at: EXPIRES.toISOString(),
  dockerconfigjson: "{}",
};

const combinedValue: CombinedSecretValue = { registries: [HOST_EUW1, HOST_USE1], expires_at: EXPIRES.toISOString(), dockerconfigjson: "{}" };

describe("encodeSecretValue", () => {
  it("writes a registry value's six properties in the documented order, whatever order the object has", () => {
    const shuffled = Object.fromEntries(Object.entries(registryValue).reverse()) as unknown as RegistrySecretValue;
    expect(Object.keys(JSON.parse(encodeSecretValue(shuffled)) as object)).toEqual([...REGISTRY_VALUE_KEYS]);
    expect(encodeSecretValue(shuffled)).toBe(encodeSecretValue(registryValue));
  });

  it("writes `withdrawn` last, only when set", () => {
    const text = encodeSecretValue({ ...registryValue, registry_url: "", auth_token: "", withdrawn: "public.ecr.aws: denied" });
    expect(Object.keys(JSON.parse(text) as object)).toEqual([...REGISTRY_VALUE_KEYS, "withdrawn"]);
  });

  it("writes the combined value's three properties in the documented order", () => {
    const shuffled = { dockerconfigjson: "{}", expires_at: combinedValue.expires_at, registries: combinedValue.registries };
    expect(encodeSecretValue(shuffled)).toBe(`{"registries":["${HOST_EUW1}","${HOST_USE1}"],"expires_at":"${EXPIRES.toISOString()}","dockerconfigjson":"{}"}`);
    expect(Object.keys(JSON.parse(encodeSecretValue(shuffled)) as object)).toEqual([...COMBINED_VALUE_KEYS]);
  });

  it("writes nothing beyond the documented properties", () => {
    const extra = { ...registryValue, password: "not-in-the-format" } as RegistrySecretValue;
    expect(encodeSecretValue(extra)).not.toContain("not-in-the-format");
  });

  it("tells a registry value from the combined one", () => {
    expect(secretKindOf(registryValue)).toBe("registry");
    expect(secretKindOf(combinedValue)).toBe("combined");
  });
});

describe("parseSecretValue: what it reads back", () => {
  it("round-trips both kinds", () => {
    expect(parseSecretValue(encodeSecretValue(registryValue), "registry", HOST_USE1)).toEqual({
      ok: true,
      stored: { kind: "registry", value: registryValue },
    });
    expect(parseSecretValue(encodeSecretValue(combinedValue), "combined")).toEqual({ ok: true, stored: { kind: "combined", value: combinedValue } });
  });

  it("accepts a hand-made secret with registry_url + auth_token only, adding nothing", () => {
    const check = parseSecretValue(JSON.stringify({ registry_url: HOST_USE1, auth_token: "old-password" }), "registry");
    expect(check.ok && Object.keys(check.stored.value)).toEqual(["registry_url", "auth_token"]);
  });

  it("reads an optional property of the wrong type as absent (as the product always did), and drops unknown ones", () => {
    const text = JSON.stringify({ registry_url: HOST_USE1, auth_token: "t", username: 5, expires_at: 42, withdrawn: true, other: "x" });
    expect(parseSecretValue(text, "registry")).toEqual({ ok: true, stored: { kind: "registry", value: { registry_url: HOST_USE1, auth_token: "t" } } });
    const combined = JSON.stringify({ dockerconfigjson: "{}", registries: [HOST_USE1, 7], expires_at: null });
    expect(parseSecretValue(combined, "combined")).toEqual({ ok: true, stored: { kind: "combined", value: { dockerconfigjson: "{}" } } });
  });

  it("accepts a withdrawn entry (empty registry_url with `withdrawn`) for the registry it is stored for", () => {
    const text = encodeSecretValue({ ...registryValue, registry_url: "", auth_token: "", withdrawn: "public.ecr.aws: denied" });
    const check = parseSecretValue(text, "registry", "public.ecr.aws");
    expect(check.ok && check.stored.kind === "registry" && check.stored.value.withdrawn).toBe("public.ecr.aws: denied");
  });
});

describe("parseSecretValue: typed refusals that never quote a secret", () => {
  it.each([
    ["not JSON", `AWS:${PASSWORD}`, "registry", { code: "not-json" }, "its current value is not JSON"],
    ["a JSON array", JSON.stringify([PASSWORD]), "registry", { code: "not-object" }, "its current value is not a JSON object"],
    ["JSON null", "null", "registry", { code: "not-object" }, "its current value is not a JSON object"],
    ["a JSON string", JSON.stringify(PASSWORD), "registry", { code: "not-object" }, "its current value is not a JSON object"],
    [
      "no auth_token",
      JSON.stringify({ registry_url: HOST_USE1, password: PASSWORD }),
      "registry",
      { code: "missing-fields", fields: ["auth_token"] },
      "its current value lacks the string property auth_token",
    ],
    [
      "auth_token not a string",
      JSON.stringify({ registry_url: HOST_USE1, auth_token: 42 }),
      "registry",
      { code: "missing-fields", fields: ["auth_token"] },
      "its current value lacks the string property auth_token",
    ],
    [
      "neither field",
      JSON.stringify({ token: PASSWORD }),
      "registry",
      { code: "missing-fields", fields: ["registry_url", "auth_token"] },
      "its current value lacks the string properties registry_url, auth_token",
    ],
    [
      "a registry secret where the combined one is expected",
      JSON.stringify({ registry_url: HOST_USE1, auth_token: PASSWORD }),
      "combined",
      { code: "missing-fields", fields: ["dockerconfigjson"] },
      "its current value lacks the string property dockerconfigjson",
    ],
    [
      "dockerconfigjson as an object",
      JSON.stringify({ dockerconfigjson: { auths: { [HOST_USE1]: { password: PASSWORD } } } }),
      "combined",
      { code: "missing-fields", fields: ["dockerconfigjson"] },
      "its current value lacks the string property dockerconfigjson",
    ],
  ] as const)("%s is refused with a reason that does not quote the value", (_label, text, kind: SecretKind, problem, reason) => {
    const check = parseSecretValue(text, kind);
    expect(check).toEqual({ ok: false, problem });
    if (check.ok) return;
    const words = describeSecretValueProblem(check.problem);
    expect(words).toBe(reason);
    expect(JSON.stringify(check.problem) + words).not.toContain(PASSWORD);
    expect(JSON.stringify(check.problem) + words).not.toContain(HOST_USE1);
  });

  it("another registry's value names both hosts", () => {
    const check = parseSecretValue(encodeSecretValue({ ...registryValue, registry_url: HOST_EUW1 }), "registry", HOST_USE1);
    expect(check).toEqual({ ok: false, problem: { code: "other-registry", field: "registry_url", expected: HOST_USE1, found: { host: HOST_EUW1 } } });
    if (!check.ok)
      expect(describeSecretValueProblem(check.problem)).toBe(`its registry_url is "${HOST_EUW1}", not ${HOST_USE1}, the registry it is stored for`);
  });

  it("a registry_url that does not look like a host (a pasted token) is described by its length only", () => {
    const check = parseSecretValue(encodeSecretValue({ ...registryValue, registry_url: PASSWORD }), "registry", HOST_USE1);
    expect(check).toEqual({ ok: false, problem: { code: "other-registry", field: "registry_url", expected: HOST_USE1, found: { length: PASSWORD.length } } });
    if (check.ok) return;
    const words = describeSecretValueProblem(check.problem);
    expect(words).toBe(`its registry_url is a value of ${PASSWORD.length} characters, not ${HOST_USE1}, the registry it is stored for`);
    expect(JSON.stringify(check.problem) + words).not.toContain(PASSWORD);
  });

  it("without a registry host, any registry_url is accepted", () => {
    expect(parseSecretValue(encodeSecretValue({ ...registryValue, registry_url: HOST_EUW1 }), "registry").ok).toBe(true);
  });
});

describe("storedExpiry", () => {
  it("is the declared expires_at, or undefined when absent or not a date", () => {
    expect(storedExpiry({ expires_at: EXPIRES.toISOString() })).toEqual(EXPIRES);
    expect(storedExpiry({})).toBeUndefined();
    expect(storedExpiry({ expires_at: "" })).toBeUndefined();
    expect(storedExpiry({ expires_at: "tomorrow" })).toBeUndefined();
  });
});
