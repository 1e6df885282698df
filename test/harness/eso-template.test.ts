// Self-test of the ESO template engine harness (Go text/template + sprig, as ESO v2 runs it),
// with the ExternalSecret `.dockerconfigjson` template users copy from the course (docs/facts.md §3).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureEsoTemplateBinary, renderEsoTemplate, SEED_DOCKERCONFIGJSON_TEMPLATE } from "../support/eso-template";
import { startRegistry, type Registry } from "../support/registry";

// The template the harness renders must be the one the documentation gives users.
const FACTS_MD = fileURLToPath(new URL("../../docs/facts.md", import.meta.url));

const HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const TOKEN = "eyJwYXlsb2FkIjoi+/abc=:colon-inside";

describe("ESO template engine (Go text/template + sprig)", () => {
  beforeAll(async () => {
    await ensureEsoTemplateBinary(); // the first build takes seconds: in the hook, not in a test
  });

  it("renders the seed ExternalSecret template into a valid dockerconfigjson", async () => {
    const out = await renderEsoTemplate(SEED_DOCKERCONFIGJSON_TEMPLATE, { registry: HOST, token: TOKEN });
    const parsed = JSON.parse(out) as { auths: Record<string, { username: string; password: string; auth: string }> };
    expect(Object.keys(parsed.auths)).toEqual([HOST]);
    expect(parsed.auths[HOST]).toEqual({
      username: "AWS",
      password: TOKEN,
      auth: Buffer.from(`AWS:${TOKEN}`).toString("base64"),
    });
  });

  it("uses the template exactly as docs/facts.md states it", () => {
    expect(readFileSync(FACTS_MD, "utf8")).toContain(`.dockerconfigjson: |\n        ${SEED_DOCKERCONFIGJSON_TEMPLATE}`);
  });

  it("fails on a key the data lacks, as ESO does (missingkey=error)", async () => {
    await expect(renderEsoTemplate(SEED_DOCKERCONFIGJSON_TEMPLATE, { registry: HOST })).rejects.toThrow(/map has no entry for key "token"/);
  });

  it("has sprig's functions but not env/expandenv, as ESO removes them", async () => {
    expect(await renderEsoTemplate('{{ "a-b" | upper }}|{{ "x" | b64enc }}|{{ trimPrefix "https://" .u }}', { u: "https://h" })).toBe("A-B|eA==|h");
    await expect(renderEsoTemplate('{{ env "HOME" }}', {})).rejects.toThrow(/function "env" not defined/);
    await expect(renderEsoTemplate('{{ expandenv "$HOME" }}', {})).rejects.toThrow(/function "expandenv" not defined/);
  });

  it("reports a parse error", async () => {
    await expect(renderEsoTemplate("{{ .registry ", { registry: HOST })).rejects.toThrow(/unable to parse template/);
  });
});

describe("ESO-rendered dockerconfigjson against a real registry", () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = await startRegistry({ users: [{ username: "AWS", password: TOKEN }] });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it("authenticates skopeo with the right token and is refused with another", async () => {
    const good = await renderEsoTemplate(SEED_DOCKERCONFIGJSON_TEMPLATE, { registry: registry.host, token: TOKEN });
    expect((await registry.skopeoInspect(registry.writeAuthFile(good))).ok).toBe(true);

    const bad = await renderEsoTemplate(SEED_DOCKERCONFIGJSON_TEMPLATE, { registry: registry.host, token: `${TOKEN}-old` });
    const refused = await registry.skopeoInspect(registry.writeAuthFile(bad));
    expect(refused.ok).toBe(false);
    expect(refused.stderr).toMatch(/unauthorized|authentication required/i);
  });
});
