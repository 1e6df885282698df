// Self-test of the real-client harness: docker-registry (htpasswd) + skopeo with a Docker config
// file as the authfile, unchanged.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRegistry, type Registry } from "../support/registry";

const TOKEN = "harness-token:with-colon-0123456789abcdefABCDEF"; // split on the first ':' only
const NEXT_TOKEN = "harness-token-rotated-9876543210";

function dockerConfigJson(host: string, username: string, password: string): string {
  const auth = Buffer.from(`${username}:${password}`).toString("base64");
  return JSON.stringify({ auths: { [host]: { username, password, auth } } });
}

describe("registry harness (docker-registry + skopeo)", () => {
  let registry: Registry;

  beforeAll(async () => {
    registry = await startRegistry({ users: [{ username: "AWS", password: TOKEN }] });
  });

  afterAll(async () => {
    await registry?.stop();
  });

  it("serves the demo image on 127.0.0.1", () => {
    expect(registry.host).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(registry.imageRef).toBe(`${registry.host}/demo/app:1`);
  });

  it("accepts a dockerconfigjson with the right password as skopeo's authfile", async () => {
    const file = registry.writeAuthFile(dockerConfigJson(registry.host, "AWS", TOKEN));
    const result = await registry.skopeoInspect(file);
    expect(result.stderr).toBe("");
    expect(result.ok).toBe(true);
  });

  it("refuses a wrong password", async () => {
    const file = registry.writeAuthFile(dockerConfigJson(registry.host, "AWS", `${TOKEN}x`));
    const result = await registry.skopeoInspect(file);
    expect(result.ok).toBe(false);
    expect(result.stderr).toMatch(/unauthorized|authentication required/i);
  });

  it("refuses a wrong user name", async () => {
    const file = registry.writeAuthFile(dockerConfigJson(registry.host, "aws", TOKEN));
    const result = await registry.skopeoInspect(file);
    expect(result.ok).toBe(false);
    expect(result.stderr).toMatch(/unauthorized|authentication required/i);
  });

  it("refuses credentials filed under another host", async () => {
    const file = registry.writeAuthFile(dockerConfigJson("123456789012.dkr.ecr.us-east-1.amazonaws.com", "AWS", TOKEN));
    const result = await registry.skopeoInspect(file);
    expect(result.ok).toBe(false);
    expect(result.stderr).toMatch(/unauthorized|authentication required/i);
  });

  it("checks username/password fields over Basic auth (skopeo itself reads only `auth`)", async () => {
    expect(await registry.probeBasic("AWS", TOKEN)).toBe(200);
    expect(await registry.probeBasic("AWS", "nope")).toBe(401);
  });

  it("refuses a stale password after rotation and accepts the new one", async () => {
    const stale = registry.writeAuthFile(dockerConfigJson(registry.host, "AWS", TOKEN));
    const fresh = registry.writeAuthFile(dockerConfigJson(registry.host, "AWS", NEXT_TOKEN));
    expect((await registry.skopeoInspect(fresh)).ok).toBe(false);

    await registry.setUsers([{ username: "AWS", password: NEXT_TOKEN }]);

    const staleResult = await registry.skopeoInspect(stale);
    expect(staleResult.ok).toBe(false);
    expect(staleResult.stderr).toMatch(/unauthorized|authentication required/i);
    expect((await registry.skopeoInspect(fresh)).ok).toBe(true);
  });

  it("rejects passwords bcrypt would truncate (a test that could not fail)", async () => {
    await expect(registry.setUsers([{ username: "AWS", password: "a".repeat(73) }])).rejects.toThrow(/first 72/);
  });
});
