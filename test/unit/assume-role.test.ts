/**
 * Clusters in other accounts (issue 12 item 1): the role is assumed with the configured
 * ExternalId and session name on the cluster region's STS endpoint, its credentials are cached
 * until 5 minutes before they expire, and they (not the function's own) sign DescribeCluster and
 * the bearer token. Refusals name the role and what to fix; no credential leaks into messages.
 */
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { DescribeClusterCommand, EKSClient } from "@aws-sdk/client-eks";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  AssumedRoleCache,
  AssumeRoleError,
  describeAssumeRoleFailure,
  REFRESH_BEFORE_EXPIRY_MS,
  sdkAssumeRole,
  type AssumedRole,
  type AssumeRoleRequest,
} from "../../src/eks/assume-role";
import { EksConnectionError, getAssumedClusterAccess } from "../../src/eks/connection";
import { decodeEksToken } from "../../src/eks/token";
import { EksTokenCache } from "../../src/eks/token-cache";
import { explainUnauthorized } from "../../src/clusters/step";
import { httpProblem } from "../../src/shared/problem";
import { deadlineIn, isDeadlineExceeded, type Deadline } from "../../src/shared/deadline";

const ROLE = "arn:aws:iam::222222222222:role/ecr-token-rotator-spoke";
const REQUEST: AssumeRoleRequest = { roleArn: ROLE, externalId: "fleet-7f3a", sessionName: "ecr-token-rotator", region: "eu-west-1" };
const T0 = new Date("2026-11-24T08:00:00Z");
const SECRET_KEY = "assumed-secret-key-d41d8cd98f00b204";
const SESSION_TOKEN = "assumed-session-token-IQoJb3JpZ2luX2VjEJr";

function role(n: number, expiresAt: Date): AssumedRole {
  return {
    credentials: { accessKeyId: `ASIAASSUMED0000000${n}`, secretAccessKey: `${SECRET_KEY}-${n}`, sessionToken: `${SESSION_TOKEN}-${n}` },
    expiresAt,
    assumedRoleArn: "arn:aws:sts::222222222222:assumed-role/ecr-token-rotator-spoke/ecr-token-rotator",
    roleArn: ROLE,
  };
}

describe("AssumedRoleCache", () => {
  it("reuses credentials until 5 minutes before they expire, then assumes the role again", async () => {
    let now = T0;
    const calls: AssumeRoleRequest[] = [];
    const cache = new AssumedRoleCache({
      now: () => now,
      assume: async (request) => {
        calls.push(request);
        return role(calls.length, new Date(now.getTime() + 3600_000));
      },
    });
    const first = await cache.get(REQUEST);
    expect(first.credentials.accessKeyId).toBe("ASIAASSUMED00000001");
    now = new Date(T0.getTime() + 3600_000 - REFRESH_BEFORE_EXPIRY_MS - 1000); // 5 min + 1 s left
    expect((await cache.get(REQUEST)).credentials.accessKeyId).toBe("ASIAASSUMED00000001");
    now = new Date(T0.getTime() + 3600_000 - REFRESH_BEFORE_EXPIRY_MS); // 5 min left: refresh
    expect((await cache.get(REQUEST)).credentials.accessKeyId).toBe("ASIAASSUMED00000002");
    expect(calls).toEqual([REQUEST, REQUEST]);
    expect(REFRESH_BEFORE_EXPIRY_MS).toBe(5 * 60_000);
  });

  it("one AssumeRole for concurrent callers; another ExternalId, session or region is another entry", async () => {
    let calls = 0;
    const cache = new AssumedRoleCache({
      now: () => T0,
      assume: async () => {
        calls += 1;
        await new Promise((r) => setTimeout(r, 10));
        return role(calls, new Date(T0.getTime() + 3600_000));
      },
    });
    await Promise.all([cache.get(REQUEST), cache.get(REQUEST), cache.get(REQUEST)]);
    expect(calls).toBe(1);
    await cache.get({ ...REQUEST, externalId: "other" });
    await cache.get({ ...REQUEST, sessionName: "other" });
    await cache.get({ ...REQUEST, region: "us-east-1" });
    expect(calls).toBe(4);
    expect(cache.calls).toBe(4);
  });

  it("a refusal is not cached and names the role, the ExternalId condition and the AWS message", async () => {
    let attempt = 0;
    const denied = Object.assign(
      new Error("User: arn:aws:sts::111111111111:assumed-role/hub/fn is not authorized to perform: sts:AssumeRole on resource: " + ROLE),
      {
        name: "AccessDenied",
      },
    );
    const cache = new AssumedRoleCache({
      now: () => T0,
      assume: async () => {
        attempt += 1;
        if (attempt === 1) throw denied;
        return role(attempt, new Date(T0.getTime() + 3600_000));
      },
    });
    const error = (await cache.get(REQUEST).catch((e: unknown) => e)) as AssumeRoleError;
    expect(error).toBeInstanceOf(AssumeRoleError);
    expect(error.problem).toBe("access-denied");
    expect(error.message).toBe(
      `sts:AssumeRole on ${ROLE} (session ecr-token-rotator, with the configured externalId) was refused (AccessDenied): ` +
        `the trust policy of ${ROLE} must allow this function's role with the condition sts:ExternalId equal to the configured externalId, ` +
        `and this function's role needs sts:AssumeRole on it: ${denied.message}`,
    );
    expect(error.message).not.toContain("fleet-7f3a"); // the ExternalId itself is not repeated
    expect((await cache.get(REQUEST)).credentials.accessKeyId).toBe("ASIAASSUMED00000002");
  });

  it("other failures say what failed", () => {
    const e = describeAssumeRoleFailure(
      { ...REQUEST, externalId: undefined },
      Object.assign(new Error("STS is not activated"), { name: "RegionDisabledException" }),
    );
    expect(e.message).toMatch(/^sts:AssumeRole on .* \(session ecr-token-rotator, without externalId\): STS is not activated in eu-west-1/);
  });
});

describe("sdkAssumeRole (the SDK port)", () => {
  const sts = mockClient(STSClient);
  beforeEach(() => sts.reset());
  afterEach(() => sts.reset());
  afterAll(() => sts.restore());

  it("sends RoleArn, RoleSessionName, ExternalId and a 1 h duration from the cluster's region", async () => {
    const regions: string[] = [];
    sts.on(AssumeRoleCommand).callsFake(async (_input, getClient) => {
      regions.push(await getClient().config.region());
      return {
        Credentials: {
          AccessKeyId: "ASIAFROMSDK000000001",
          SecretAccessKey: SECRET_KEY,
          SessionToken: SESSION_TOKEN,
          Expiration: new Date(T0.getTime() + 3600_000),
        },
        AssumedRoleUser: { Arn: "arn:aws:sts::222222222222:assumed-role/ecr-token-rotator-spoke/ecr-token-rotator", AssumedRoleId: "AROA:ecr-token-rotator" },
      };
    });
    const got = await sdkAssumeRole()(REQUEST);
    expect(sts.commandCalls(AssumeRoleCommand)[0]!.args[0].input).toEqual({
      RoleArn: ROLE,
      RoleSessionName: "ecr-token-rotator",
      ExternalId: "fleet-7f3a",
      DurationSeconds: 3600,
    });
    expect(regions).toEqual(["eu-west-1"]);
    expect(got).toEqual({
      credentials: { accessKeyId: "ASIAFROMSDK000000001", secretAccessKey: SECRET_KEY, sessionToken: SESSION_TOKEN },
      expiresAt: new Date(T0.getTime() + 3600_000),
      assumedRoleArn: "arn:aws:sts::222222222222:assumed-role/ecr-token-rotator-spoke/ecr-token-rotator",
      roleArn: ROLE,
    });
    // no ExternalId configured: none sent
    await sdkAssumeRole()({ ...REQUEST, externalId: undefined, region: "ap-southeast-2" });
    expect(sts.commandCalls(AssumeRoleCommand)[1]!.args[0].input).not.toHaveProperty("ExternalId");
  });

  it("the STS client resolves the regional endpoint, not the global one", async () => {
    const client = new STSClient({ region: "eu-west-1" });
    const endpoint = client.config.endpointProvider({ Region: "eu-west-1", UseGlobalEndpoint: false, UseFIPS: false, UseDualStack: false });
    expect(endpoint.url.hostname).toBe("sts.eu-west-1.amazonaws.com");
    client.destroy();
  });
});

describe("getAssumedClusterAccess", () => {
  const eks = mockClient(EKSClient);
  beforeEach(() => eks.reset());
  afterEach(() => eks.reset());
  afterAll(() => eks.restore());

  it("DescribeCluster and the bearer token use the assumed role's credentials", async () => {
    const cache = new AssumedRoleCache({ now: () => new Date(), assume: async () => role(1, new Date(Date.now() + 3600_000)) });
    const signedWith: string[] = [];
    eks.on(DescribeClusterCommand).callsFake(async (_input, getClient) => {
      signedWith.push((await getClient().config.credentials()).accessKeyId);
      return { cluster: { name: "spoke", status: "ACTIVE", endpoint: "https://spoke.example.eks.amazonaws.com", certificateAuthority: { data: "Q0E=" } } };
    });
    const access = await getAssumedClusterAccess({ name: "spoke", region: "eu-west-1" }, REQUEST, { cache, tokens: new EksTokenCache() });
    expect(signedWith).toEqual(["ASIAASSUMED00000001"]);
    expect(access.server).toBe("https://spoke.example.eks.amazonaws.com");
    const url = decodeEksToken(access.token);
    expect(url.hostname).toBe("sts.eu-west-1.amazonaws.com");
    expect(url.searchParams.get("X-Amz-Credential")).toMatch(/^ASIAASSUMED00000001\//);
    expect(url.searchParams.get("X-Amz-Security-Token")).toBe(`${SESSION_TOKEN}-1`);
    expect(access.identity).toEqual({ roleArn: ROLE, assumedRoleArn: "arn:aws:sts::222222222222:assumed-role/ecr-token-rotator-spoke/ecr-token-rotator" });
    expect(cache.calls).toBe(1);
  });

  it("two roles for one cluster name and region never share a bearer token, even with the same access key id", async () => {
    const other = "arn:aws:iam::333333333333:role/ecr-token-rotator-spoke";
    // A stand-in STS that hands both roles the same access key id: only the secret parts differ.
    const cache = new AssumedRoleCache({
      assume: async (request) => ({
        ...role(request.roleArn === ROLE ? 1 : 2, new Date(Date.now() + 3600_000)),
        credentials: {
          accessKeyId: "ASIASAMEKEYFORBOTH01",
          secretAccessKey: `${SECRET_KEY}-${request.roleArn}`,
          sessionToken: `${SESSION_TOKEN}-${request.roleArn === ROLE ? "a" : "b"}`,
        },
        roleArn: request.roleArn,
      }),
    });
    const cluster = { name: "spoke", region: "eu-west-1", endpoint: "https://spoke.example.eks.amazonaws.com", caData: "Q0E=" };
    const tokens = new EksTokenCache();
    const a = await getAssumedClusterAccess(cluster, REQUEST, { cache, tokens });
    const b = await getAssumedClusterAccess(cluster, { ...REQUEST, roleArn: other }, { cache, tokens });
    expect(decodeEksToken(a.token).searchParams.get("X-Amz-Security-Token")).toBe(`${SESSION_TOKEN}-a`);
    expect(decodeEksToken(b.token).searchParams.get("X-Amz-Security-Token")).toBe(`${SESSION_TOKEN}-b`);
    expect(tokens.signed).toBe(2);
    // Each role's token is reused for that role only.
    expect((await getAssumedClusterAccess(cluster, REQUEST, { cache, tokens })).token).toBe(a.token);
    expect(tokens.signed).toBe(2);
  });

  it("a refused AssumeRole is a connection error of the cluster, without secret material", async () => {
    const cache = new AssumedRoleCache({
      assume: async () => {
        throw Object.assign(new Error(`denied (key ${SECRET_KEY})`), { name: "AccessDenied" });
      },
    });
    const { rememberSecret } = await import("../../src/shared/redact");
    rememberSecret(SECRET_KEY);
    const error = (await getAssumedClusterAccess({ name: "spoke", region: "eu-west-1" }, REQUEST, { cache }).catch((e: unknown) => e)) as EksConnectionError;
    expect(error).toBeInstanceOf(EksConnectionError);
    expect(error.problem).toBe("access-denied");
    expect(error.message).toMatch(
      new RegExp(`^EKS cluster spoke \\(eu-west-1\\): sts:AssumeRole on ${ROLE.replace(/[/]/g, "\\/")} .* was refused \\(AccessDenied\\)`),
    );
    expect(error.message).not.toContain(SECRET_KEY);
  });

  it("DescribeCluster refused as the assumed role names that role", async () => {
    const cache = new AssumedRoleCache({ assume: async () => role(1, new Date(Date.now() + 3600_000)) });
    eks.on(DescribeClusterCommand).rejects(Object.assign(new Error("not authorized"), { name: "AccessDeniedException" }));
    const error = (await getAssumedClusterAccess({ name: "spoke", region: "eu-west-1" }, REQUEST, { cache }).catch((e: unknown) => e)) as EksConnectionError;
    expect(error.message).toContain(`the role ${ROLE} needs eks:DescribeCluster on this cluster`);
  });
});

describe("explainUnauthorized", () => {
  const identity = { roleArn: ROLE, assumedRoleArn: "arn:aws:sts::222222222222:assumed-role/ecr-token-rotator-spoke/ecr-token-rotator" };
  it("a 401 from a cluster reached through a role names the identity the cluster saw and the access entry to create", () => {
    const report = explainUnauthorized(
      {
        cluster: "spoke",
        region: "eu-west-1",
        ok: false,
        error: "listing namespaces failed: unauthorized (401): the bearer token was rejected on list namespaces cluster-wide",
        problems: [httpProblem(401, { service: "kubernetes", verb: "list", resource: "namespaces" })],
        namespaces: [],
      },
      { server: "https://x", caData: "", token: "", identity },
    );
    expect(report.error).toBe(
      "listing namespaces failed: unauthorized (401): the bearer token was rejected on list namespaces cluster-wide; " +
        `the cluster refused the token of ${identity.assumedRoleArn} (assumed from ${ROLE}): no EKS access entry maps the role ${ROLE} ` +
        "(map the role ARN, not the session ARN) to the Kubernetes group ecr-token-rotator — see docs/fleet.md",
    );
  });
  it("leaves other reports alone", () => {
    const ok = { cluster: "spoke", region: "eu-west-1", ok: true, namespaces: [] };
    expect(explainUnauthorized({ ...ok }, { server: "", caData: "", token: "", identity })).toEqual(ok);
    const forbidden = { ...ok, ok: false, error: "forbidden (403)" };
    expect(explainUnauthorized({ ...forbidden }, { server: "", caData: "", token: "", identity })).toEqual(forbidden);
    // The words "unauthorized (401)" alone classify nothing: only a typed unauthorized Problem does.
    const words = { ...ok, ok: false, error: "unauthorized (401)" };
    expect(explainUnauthorized({ ...words }, { server: "", caData: "", token: "", identity })).toEqual(words);
    const own = { ...ok, ok: false, error: "unauthorized (401)", problems: [httpProblem(401, { service: "kubernetes" })] };
    expect(explainUnauthorized({ ...own }, { server: "", caData: "", token: "" })).toEqual(own);
  });
});

describe("the invocation's deadline on the assume-role path", () => {
  const sts = mockClient(STSClient);
  beforeEach(() => sts.reset());
  afterEach(() => sts.reset());
  afterAll(() => sts.restore());

  it("an AssumeRole that hangs ends at the deadline as DeadlineExceededError; after it, none starts", async () => {
    sts.on(AssumeRoleCommand).callsFake(() => new Promise(() => undefined));
    const error = await sdkAssumeRole()(REQUEST, deadlineIn(50)).catch((e: unknown) => e);
    expect(isDeadlineExceeded(error)).toBe(true);
    expect(String(error)).toContain("STS AssumeRole");
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(1);
    const passed = await sdkAssumeRole()(REQUEST, deadlineIn(0)).catch((e: unknown) => e);
    expect(isDeadlineExceeded(passed)).toBe(true);
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(1);
  });

  it("the cache hands the deadline to AssumeRole and lets DeadlineExceededError through unwrapped and uncached", async () => {
    const seen: Array<Deadline | undefined> = [];
    let hang = true;
    const cache = new AssumedRoleCache({
      assume: async (_request, deadline) => {
        seen.push(deadline);
        if (hang) return deadline!.race(new Promise<AssumedRole>(() => undefined), "STS AssumeRole");
        return role(2, new Date(Date.now() + 3600_000));
      },
    });
    const deadline = deadlineIn(50);
    const error = await getAssumedClusterAccess({ name: "spoke", region: "eu-west-1" }, REQUEST, { cache, deadline }).catch((e: unknown) => e);
    // The deadline is not a cluster problem (no EksConnectionError): the step reports the cluster `skipped`.
    expect(error).not.toBeInstanceOf(EksConnectionError);
    expect(isDeadlineExceeded(error)).toBe(true);
    expect(seen).toEqual([deadline]);
    hang = false;
    expect((await cache.get(REQUEST)).credentials.accessKeyId).toBe("ASIAASSUMED00000002");
    expect(cache.calls).toBe(2);
  });
});
