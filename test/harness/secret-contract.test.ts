/**
 * The golden contract of the Secrets Manager value (README, "The Secrets Manager format"): the
 * exact SecretString the product writes for a fixed ECR answer and clock, that it is the JSON the
 * README documents (keys, order, values), and that the templates of the shipped manifests
 * (infra/k8s/external-secret.yaml, base/cluster-external-secret.yaml, components/argocd/argocd-ecr-helm-repo.yaml) and
 * the README's own ExternalSecrets, rendered by ESO's real template engine (Go text/template +
 * sprig) from the codec's encoded output, yield working credentials.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { load } from "js-yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { parseDockerConfig } from "../../src/formats/dockerconfig";
import { parseRegistryHost } from "../../src/formats/registry-host";
import { COMBINED_VALUE_KEYS, encodeSecretValue, parseSecretValue, REGISTRY_VALUE_KEYS } from "../../src/formats/secret-value";
import { RegionTokens, type RegistryCredential } from "../../src/rotation/ecr";
import { combinedSecretValue, registrySecretValue } from "../../src/rotation/secret-payload";
import { ensureEsoTemplateBinary, renderEsoTemplate } from "../support/eso-template";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const HOST_EUW1 = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
/** Characters a real ECR password has (base64: + / =), nothing a template would have to escape. */
const TOKEN = "golden+token/ABC=";
const TOKEN_EUW1 = "golden+euw1/XYZ=";
/** base64("AWS:golden+token/ABC="), written out: the golden value must not be computed by the code under test. */
const AUTH = "QVdTOmdvbGRlbit0b2tlbi9BQkM9";
/** The README's example expiry; the clock stands 12 h before it. */
const EXPIRES = new Date("2026-11-24T10:00:00.000Z");
const NOW = new Date("2026-11-23T22:00:00.000Z");

const GOLDEN =
  `{"registry_url":"${HOST}","auth_token":"${TOKEN}","username":"AWS","proxy_endpoint":"https://${HOST}",` +
  `"expires_at":"2026-11-24T10:00:00.000Z","dockerconfigjson":"{\\"auths\\":{\\"${HOST}\\":{\\"username\\":\\"AWS\\",` +
  `\\"password\\":\\"${TOKEN}\\",\\"auth\\":\\"${AUTH}\\"}}}"}`;

/** A credential through the product's own path from an ECR answer (RegionTokens → RegistryCredential). */
async function credentialFromEcr(host: string, password: string): Promise<RegistryCredential> {
  const registry = parseRegistryHost(host);
  const answer = { authorizationToken: Buffer.from(`AWS:${password}`).toString("base64"), expiresAt: EXPIRES, proxyEndpoint: `https://${host}` };
  const tokens = new RegionTokens({ getAuthorizationToken: async () => [answer] }, () => NOW, 3600);
  return tokens.credentialFor(registry);
}

/** The "The Secrets Manager format" section of the README, up to the next `## ` heading. */
function readmeFormatSection(): string {
  const readme = readFileSync(`${ROOT}README.md`, "utf8");
  const start = readme.indexOf("## The Secrets Manager format");
  expect(start).toBeGreaterThanOrEqual(0);
  const end = readme.indexOf("\n## ", start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

function fencedBlocks(text: string, lang: string): string[] {
  return [...text.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!);
}

interface EsoSpec {
  target: { template?: { type?: string; data?: Record<string, string> } };
  data: Array<{ secretKey: string; remoteRef: { key: string; property: string } }>;
}

/** The ExternalSecret spec of a manifest (a ClusterExternalSecret's child spec), or a README fragment that is one. */
function esoSpec(doc: Record<string, unknown>): EsoSpec {
  if (doc.kind === "ExternalSecret") return (doc as { spec: EsoSpec }).spec;
  if (doc.kind === "ClusterExternalSecret") return (doc as { spec: { externalSecretSpec: EsoSpec } }).spec.externalSecretSpec;
  return doc as unknown as EsoSpec;
}

/**
 * The Secret data ESO writes from one Secrets Manager SecretString: each `data` entry fetches a
 * property (a string as is, anything else as JSON, as ESO's AWS provider does); with a template,
 * each template entry is rendered by ESO's engine against those values.
 */
async function esoSecretData(spec: EsoSpec, secretString: string): Promise<Record<string, string>> {
  const value = JSON.parse(secretString) as Record<string, unknown>;
  const fetched: Record<string, string> = {};
  for (const { secretKey, remoteRef } of spec.data) {
    const property = value[remoteRef.property];
    expect(property, `property ${remoteRef.property}`).toBeDefined();
    fetched[secretKey] = typeof property === "string" ? property : JSON.stringify(property);
  }
  const templates = spec.target.template?.data;
  if (templates === undefined) return fetched;
  const rendered: Record<string, string> = {};
  for (const [key, template] of Object.entries(templates)) rendered[key] = await renderEsoTemplate(template, fetched, key);
  return rendered;
}

/** A pull secret's `.dockerconfigjson` that logs in to `host` as AWS with `token`. */
function expectWorkingDockerConfig(text: string | undefined, host: string, token: string): void {
  expect(text).toBeDefined();
  const config = parseDockerConfig(text!);
  expect(config.auths[host]).toEqual({ username: "AWS", password: token, auth: Buffer.from(`AWS:${token}`).toString("base64") });
}

describe("the Secrets Manager value: golden SecretString", () => {
  it("is exactly this for a fixed ECR answer and clock", async () => {
    const encoded = encodeSecretValue(registrySecretValue(await credentialFromEcr(HOST, TOKEN)));
    expect(encoded).toBe(GOLDEN);
    expect(parseSecretValue(encoded, "registry", HOST)).toEqual({ ok: true, stored: { kind: "registry", value: JSON.parse(GOLDEN) } });
  });

  it("is the JSON the README documents: the same keys in the same order, the same values but the secret", () => {
    const blocks = fencedBlocks(readmeFormatSection(), "json");
    expect(blocks.length).toBeGreaterThan(0);
    const documented = JSON.parse(blocks[0]!) as Record<string, string>;
    const golden = JSON.parse(GOLDEN) as Record<string, string>;
    expect(Object.keys(documented)).toEqual([...REGISTRY_VALUE_KEYS]);
    expect(Object.keys(golden)).toEqual([...REGISTRY_VALUE_KEYS]);
    for (const key of ["registry_url", "username", "proxy_endpoint", "expires_at"]) expect(documented[key], key).toBe(golden[key]);
    const entry = (text: string) => parseDockerConfig(text).auths;
    expect(Object.keys(entry(documented.dockerconfigjson!))).toEqual([HOST]);
    expect(Object.keys(entry(documented.dockerconfigjson!)[HOST]!)).toEqual(Object.keys(entry(golden.dockerconfigjson!)[HOST]!));
  });

  it("the combined secret has the README's keys in its order", async () => {
    const described = /`(\{"registries":[^`]*\})`/.exec(readmeFormatSection());
    expect(described).not.toBeNull();
    const documentedKeys = [...described![1]!.matchAll(/"(\w+)":/g)].map((m) => m[1]);
    const combined = combinedSecretValue([await credentialFromEcr(HOST, TOKEN), await credentialFromEcr(HOST_EUW1, TOKEN_EUW1)]);
    const encoded = encodeSecretValue(combined);
    expect(documentedKeys).toEqual([...COMBINED_VALUE_KEYS]);
    expect(Object.keys(JSON.parse(encoded) as object)).toEqual([...COMBINED_VALUE_KEYS]);
    expect(encoded.startsWith(`{"registries":["${HOST_EUW1}","${HOST}"],"expires_at":"2026-11-24T10:00:00.000Z","dockerconfigjson":`)).toBe(true);
  });
});

describe("the shipped manifests' templates, rendered by ESO's engine from the encoded value", () => {
  let secretString: string;
  beforeAll(async () => {
    await ensureEsoTemplateBinary(); // the first build takes seconds: in the hook, not in a test
    secretString = encodeSecretValue(registrySecretValue(await credentialFromEcr(HOST, TOKEN)));
  });

  const manifest = (file: string) => load(readFileSync(`${ROOT}infra/k8s/${file}`, "utf8")) as Record<string, unknown>;

  it.each(["external-secret.yaml", "base/cluster-external-secret.yaml"])("infra/k8s/%s yields a working kubernetes.io/dockerconfigjson", async (file) => {
    const spec = esoSpec(manifest(file));
    expect(spec.target.template?.type).toBe("kubernetes.io/dockerconfigjson");
    const data = await esoSecretData(spec, secretString);
    expect(Object.keys(data)).toEqual([".dockerconfigjson"]);
    expectWorkingDockerConfig(data[".dockerconfigjson"], HOST, TOKEN);
  });

  it("infra/k8s/components/argocd/argocd-ecr-helm-repo.yaml yields an Argo CD Helm OCI repository for the registry with the token", async () => {
    const data = await esoSecretData(esoSpec(manifest("components/argocd/argocd-ecr-helm-repo.yaml")), secretString);
    expect(data).toEqual({ name: "ecr", type: "helm", enableOCI: "true", url: HOST, username: "AWS", password: TOKEN });
  });

  it("the README's ExternalSecrets (templated, and from the ready dockerconfigjson property) yield a working dockerconfigjson", async () => {
    const specs = fencedBlocks(readmeFormatSection(), "yaml").map((block) => esoSpec(load(block) as Record<string, unknown>));
    expect(specs.length).toBeGreaterThanOrEqual(2);
    for (const spec of specs) {
      expect(spec.target.template?.type).toBe("kubernetes.io/dockerconfigjson");
      expectWorkingDockerConfig((await esoSecretData(spec, secretString))[".dockerconfigjson"], HOST, TOKEN);
    }
  });

  it("the combined secret's dockerconfigjson property, copied without a template, logs in to every registry", async () => {
    const combined = encodeSecretValue(combinedSecretValue([await credentialFromEcr(HOST, TOKEN), await credentialFromEcr(HOST_EUW1, TOKEN_EUW1)]));
    const untemplated = fencedBlocks(readmeFormatSection(), "yaml")
      .map((block) => esoSpec(load(block) as Record<string, unknown>))
      .find((spec) => spec.target.template?.data === undefined);
    expect(untemplated).toBeDefined();
    const data = await esoSecretData(untemplated!, combined);
    expectWorkingDockerConfig(data[".dockerconfigjson"], HOST, TOKEN);
    expectWorkingDockerConfig(data[".dockerconfigjson"], HOST_EUW1, TOKEN_EUW1);
  });
});
