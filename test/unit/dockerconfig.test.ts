/**
 * The kubernetes.io/dockerconfigjson format (docs/facts.md §4): `{"auths":{"<host>":{username,password,auth}}}`,
 * `auth` = base64(user:pass) and, when present, it overrides username/password (kubelet
 * pkg/credentialprovider/config.go DockerConfigEntry.UnmarshalJSON). A merge keeps other teams' registries.
 */
import { describe, expect, it } from "vitest";
import {
  buildDockerConfig,
  credentialsOfEntry,
  dockerConfigEntry,
  mergeDockerConfig,
  parseDockerConfig,
  serializeDockerConfig,
  type DockerConfig,
} from "../../src/formats/dockerconfig";
import { HOST_EUW1, HOST_OTHER_ACCOUNT_USE1, HOST_USE1, PASSWORD } from "../support/fixtures";

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");
const decode = (text: string) => Buffer.from(text, "base64").toString("utf8");

describe("dockerConfigEntry / buildDockerConfig", () => {
  it("an entry has username, password and auth = base64(user:pass)", () => {
    const entry = dockerConfigEntry({ host: HOST_USE1, username: "AWS", password: PASSWORD });
    expect(entry).toEqual({ username: "AWS", password: PASSWORD, auth: b64(`AWS:${PASSWORD}`) });
    expect(decode(entry.auth!)).toBe(`AWS:${PASSWORD}`);
  });

  it("auth is the UTF-8 bytes, base64 with padding (what `docker login` writes)", () => {
    const entry = dockerConfigEntry({ host: HOST_USE1, username: "ü", password: "p€ss" });
    expect(entry.auth).toBe(Buffer.from("ü:p€ss", "utf8").toString("base64"));
    expect(entry.auth!.length % 4).toBe(0);
  });

  it("one entry per login, keys are bare hosts in sorted order", () => {
    const config = buildDockerConfig([
      { host: HOST_USE1, username: "AWS", password: "use1-pass" },
      { host: HOST_EUW1, username: "AWS", password: "euw1-pass" },
      { host: HOST_OTHER_ACCOUNT_USE1, username: "AWS", password: "use1-pass" },
    ]);
    expect(Object.keys(config)).toEqual(["auths"]);
    expect(Object.keys(config.auths)).toEqual([HOST_USE1, HOST_EUW1, HOST_OTHER_ACCOUNT_USE1].sort());
    expect(config.auths[HOST_EUW1]).toEqual({ username: "AWS", password: "euw1-pass", auth: b64("AWS:euw1-pass") });
  });

  it("serialises stably: the same logins in any order give the same bytes", () => {
    const a = { host: HOST_USE1, username: "AWS", password: "x1" };
    const b = { host: HOST_EUW1, username: "AWS", password: "x2" };
    expect(serializeDockerConfig(buildDockerConfig([a, b]))).toBe(serializeDockerConfig(buildDockerConfig([b, a])));
  });

  it("serialises to exactly the JSON the kubelet reads", () => {
    const text = serializeDockerConfig(buildDockerConfig([{ host: HOST_USE1, username: "AWS", password: "pw" }]));
    expect(text).toBe(`{"auths":{"${HOST_USE1}":{"username":"AWS","password":"pw","auth":"${b64("AWS:pw")}"}}}`);
  });

  it("refuses to build an empty config (never an empty auths over a working secret)", () => {
    expect(() => buildDockerConfig([])).toThrow(/at least one registry login/);
  });
});

describe("mergeDockerConfig", () => {
  const foreign: DockerConfig = {
    auths: {
      "ghcr.io": { auth: b64("octocat:ghp_foreignToken") },
      "https://index.docker.io/v1/": { username: "team-b", password: "dockerhub-pass", email: "b@example.com" },
      [HOST_USE1]: { username: "AWS", password: "stale", auth: b64("AWS:stale") },
    },
    credHelpers: { "public.ecr.aws": "ecr-login" },
  };

  it("replaces our hosts, keeps every other registry entry and top-level key untouched", () => {
    const merged = mergeDockerConfig(foreign, [{ host: HOST_USE1, username: "AWS", password: "fresh" }]);
    expect(merged.auths[HOST_USE1]).toEqual({ username: "AWS", password: "fresh", auth: b64("AWS:fresh") });
    expect(merged.auths["ghcr.io"]).toEqual(foreign.auths["ghcr.io"]);
    expect(merged.auths["https://index.docker.io/v1/"]).toEqual(foreign.auths["https://index.docker.io/v1/"]);
    expect(merged.credHelpers).toEqual({ "public.ecr.aws": "ecr-login" });
  });

  it("adds hosts that were missing and sorts the keys", () => {
    const merged = mergeDockerConfig(foreign, [{ host: HOST_EUW1, username: "AWS", password: "new" }]);
    expect(Object.keys(merged.auths)).toEqual([...Object.keys(foreign.auths), HOST_EUW1].sort());
    expect(merged.auths[HOST_USE1]!.password).toBe("stale");
  });

  it("does not mutate the existing config", () => {
    const before = JSON.stringify(foreign);
    mergeDockerConfig(foreign, [{ host: HOST_USE1, username: "AWS", password: "fresh" }]);
    expect(JSON.stringify(foreign)).toBe(before);
  });

  it("without an existing config it is just our config", () => {
    const logins = [{ host: HOST_USE1, username: "AWS", password: "p" }];
    expect(mergeDockerConfig(undefined, logins)).toEqual(buildDockerConfig(logins));
  });

  it("merging needs at least one login", () => {
    expect(() => mergeDockerConfig(foreign, [])).toThrow(/at least one registry login/);
  });
});

describe("parseDockerConfig", () => {
  it("round-trips what serializeDockerConfig writes", () => {
    const config = buildDockerConfig([{ host: HOST_USE1, username: "AWS", password: PASSWORD }]);
    expect(parseDockerConfig(serializeDockerConfig(config))).toEqual(config);
  });

  it("keeps unknown top-level keys", () => {
    expect(parseDockerConfig('{"auths":{},"credsStore":"desktop"}')).toEqual({ auths: {}, credsStore: "desktop" });
  });

  it.each([
    ["not JSON", `{"auths":{"${HOST_USE1}":{"password":"${PASSWORD}"}`, /not valid JSON/],
    ["a JSON array", `["${PASSWORD}"]`, /not a JSON object/],
    ["a JSON string", JSON.stringify(PASSWORD), /not a JSON object/],
    ["null", "null", /not a JSON object/],
    ["the legacy .dockercfg map (no auths)", JSON.stringify({ [HOST_USE1]: { auth: b64(`AWS:${PASSWORD}`) } }), /no "auths" object/],
    ["auths is an array", JSON.stringify({ auths: [PASSWORD] }), /no "auths" object/],
    ["auths is null", '{"auths":null}', /no "auths" object/],
  ])("%s is rejected with a message that quotes none of its content", (_label, text, message) => {
    let error: Error | undefined;
    try {
      parseDockerConfig(text);
    } catch (e) {
      error = e as Error;
    }
    expect(error?.message).toMatch(message);
    expect(error!.message).not.toContain(PASSWORD);
    expect(error!.message).not.toContain(b64(`AWS:${PASSWORD}`));
    expect(error!.message).not.toContain(HOST_USE1);
  });
});

describe("credentialsOfEntry (as the kubelet reads an entry)", () => {
  it("username/password when there is no auth", () => {
    expect(credentialsOfEntry({ username: "AWS", password: PASSWORD })).toEqual({ username: "AWS", password: PASSWORD });
  });

  it("auth overrides username/password", () => {
    expect(credentialsOfEntry({ username: "someone", password: "old", auth: b64("AWS:new-pass") })).toEqual({ username: "AWS", password: "new-pass" });
  });

  it("auth is split on the first ':' (a password with ':' survives)", () => {
    expect(credentialsOfEntry({ auth: b64(`AWS:${PASSWORD}`) })).toEqual({ username: "AWS", password: PASSWORD });
  });

  it("unpadded auth is accepted (the kubelet accepts padded or unpadded)", () => {
    const padded = b64("AWS:pass12");
    expect(padded.endsWith("=")).toBe(true);
    expect(credentialsOfEntry({ auth: padded.replace(/=+$/, "") })).toEqual({ username: "AWS", password: "pass12" });
  });

  it("an empty auth falls back to username/password", () => {
    expect(credentialsOfEntry({ username: "AWS", password: "p", auth: "" })).toEqual({ username: "AWS", password: "p" });
  });

  it("auth without ':' gives no credentials, even if username/password are present", () => {
    expect(credentialsOfEntry({ username: "AWS", password: "p", auth: b64("no-separator") })).toBeUndefined();
  });

  it.each([[{}], [{ username: "AWS" }], [{ password: "p" }], [{ email: "a@example.com" }], [{ username: "AWS", password: 42 }]])(
    "%j gives no credentials",
    (entry) => {
      expect(credentialsOfEntry(entry as never)).toBeUndefined();
    },
  );

  it("every entry we build reads back as the login we built it from", () => {
    const login = { host: HOST_USE1, username: "AWS", password: PASSWORD };
    const config = parseDockerConfig(serializeDockerConfig(buildDockerConfig([login])));
    expect(credentialsOfEntry(config.auths[HOST_USE1]!)).toEqual({ username: "AWS", password: PASSWORD });
  });
});
