import { describe, expect, it } from "vitest";
import { EKSClient } from "@aws-sdk/client-eks";
import {
  createEksCredentialsProvider,
  EksConnectionError,
  getClusterAccess,
  resolveClusterConnection,
  type DescribeClusterResult,
} from "../../src/eks/connection";
import { decodeEksToken } from "../../src/eks/token";
import { EksTokenCache } from "../../src/eks/token-cache";

const CA = Buffer.from("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").toString("base64");
const active = (over: Partial<NonNullable<DescribeClusterResult["cluster"]>> = {}): DescribeClusterResult => ({
  cluster: { name: "c", status: "ACTIVE", endpoint: "https://ABCDEF.gr7.us-east-1.eks.amazonaws.com", certificateAuthority: { data: CA }, ...over },
});

function describer(result: DescribeClusterResult | Error) {
  const calls: string[] = [];
  const fn = async (name: string) => {
    calls.push(name);
    if (result instanceof Error) throw result;
    return result;
  };
  return { fn, calls };
}

function awsError(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

async function problemOf(p: Promise<unknown>): Promise<EksConnectionError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(EksConnectionError);
  return e as EksConnectionError;
}

describe("resolveClusterConnection", () => {
  it("returns DescribeCluster's endpoint and CA for an ACTIVE cluster", async () => {
    const d = describer(active());
    expect(await resolveClusterConnection(d.fn, { name: "c", region: "us-east-1" })).toEqual({
      server: "https://ABCDEF.gr7.us-east-1.eks.amazonaws.com",
      caData: CA,
    });
    expect(d.calls).toEqual(["c"]);
  });

  it("uses a configured endpoint + CA without calling DescribeCluster", async () => {
    const d = describer(awsError("AccessDeniedException", "nope"));
    const got = await resolveClusterConnection(d.fn, { name: "c", region: "us-east-1", endpoint: "https://127.0.0.1:6443/", caData: CA });
    expect(got).toEqual({ server: "https://127.0.0.1:6443", caData: CA });
    expect(d.calls).toEqual([]);
  });

  it("replaces only the configured field when just an endpoint or just a CA is given", async () => {
    const d = describer(active());
    expect((await resolveClusterConnection(d.fn, { name: "c", region: "us-east-1", endpoint: "https://proxy.internal:8443" })).server).toBe(
      "https://proxy.internal:8443",
    );
    expect((await resolveClusterConnection(d.fn, { name: "c", region: "us-east-1", caData: "b3RoZXI=" })).caData).toBe("b3RoZXI=");
    expect(d.calls).toEqual(["c", "c"]);
  });

  it("refuses a cluster that is CREATING, DELETING, FAILED (or unknown), naming the cluster, its status and what to do", async () => {
    const advice: Record<string, RegExp> = {
      CREATING: /still being created/,
      DELETING: /being deleted; remove it from EKS_CLUSTERS/,
      FAILED: /failed to create or update/,
      PENDING: /not ready yet/,
    };
    for (const status of ["CREATING", "DELETING", "FAILED", "PENDING", undefined]) {
      const e = await problemOf(resolveClusterConnection(describer(active({ status })).fn, { name: "c", region: "eu-west-1" }));
      expect(e.problem).toBe("not-active");
      expect(e.message).toContain("EKS cluster c (eu-west-1)");
      expect(e.message).toContain("not ACTIVE or UPDATING");
      if (status) expect(e.message).toContain(status);
      if (status) expect(e.message).toMatch(advice[status]!);
    }
  });

  it("uses a cluster that is UPDATING: its API server keeps serving during an upgrade", async () => {
    const connection = await resolveClusterConnection(describer(active({ status: "UPDATING" })).fn, { name: "c", region: "eu-west-1" });
    expect(connection.server).toMatch(/^https:\/\//);
    expect(connection.caData).not.toBe("");
  });

  it("refuses an ACTIVE cluster without endpoint or CA, or with a non-https endpoint", async () => {
    const noEndpoint = await problemOf(resolveClusterConnection(describer(active({ endpoint: undefined })).fn, { name: "c", region: "us-east-1" }));
    expect(noEndpoint.problem).toBe("incomplete");
    expect(noEndpoint.message).toMatch(/no endpoint/);
    const noCa = await problemOf(resolveClusterConnection(describer(active({ certificateAuthority: {} })).fn, { name: "c", region: "us-east-1" }));
    expect(noCa.message).toMatch(/no certificate authority/);
    const http = await problemOf(resolveClusterConnection(describer(active({ endpoint: "http://x" })).fn, { name: "c", region: "us-east-1" }));
    expect(http.message).toMatch(/not an https/);
    const empty = await problemOf(resolveClusterConnection(describer({}).fn, { name: "c", region: "us-east-1" }));
    expect(empty.problem).toBe("not-found");
  });

  it("turns DescribeCluster failures into clear errors", async () => {
    const notFound = await problemOf(
      resolveClusterConnection(describer(awsError("ResourceNotFoundException", "No cluster found for name: c.")).fn, { name: "c", region: "us-east-1" }),
    );
    expect(notFound.problem).toBe("not-found");
    expect(notFound.message).toMatch(/does not exist.*EKS_CLUSTERS/);
    const denied = await problemOf(
      resolveClusterConnection(describer(awsError("AccessDeniedException", "User: arn:aws:sts::1:assumed-role/r/s is not authorized")).fn, {
        name: "c",
        region: "us-east-1",
      }),
    );
    expect(denied.problem).toBe("access-denied");
    expect(denied.message).toMatch(/eks:DescribeCluster/);
    const other = await problemOf(
      resolveClusterConnection(describer(awsError("ServiceUnavailableException", "try later")).fn, { name: "c", region: "us-east-1" }),
    );
    expect(other.problem).toBe("api-error");
    expect(other.message).toMatch(/\(ServiceUnavailableException\): try later/);
  });
});

describe("createEksCredentialsProvider", () => {
  it("resolves credentials through the client's default chain", async () => {
    const client = new EKSClient({
      region: "us-east-1",
      credentials: { accessKeyId: "AKIAROTATORTESTKEY01", secretAccessKey: "rotator-test-secret-key", sessionToken: "tok-123456" },
    });
    expect(await createEksCredentialsProvider("us-east-1", client)()).toEqual({
      accessKeyId: "AKIAROTATORTESTKEY01",
      secretAccessKey: "rotator-test-secret-key",
      sessionToken: "tok-123456",
    });
  });

  it("reports a missing credential without any secret value", async () => {
    const secret = "super-secret-value-123";
    const client = new EKSClient({
      region: "us-east-1",
      credentials: async () => {
        throw awsError("CredentialsProviderError", `Could not load credentials from any providers (had ${secret})`);
      },
    });
    // a secret the process already knows is scrubbed from any message
    const known = new EKSClient({ region: "us-east-1", credentials: { accessKeyId: "AKIAX", secretAccessKey: secret } });
    await createEksCredentialsProvider("us-east-1", known)();
    const e = await problemOf(createEksCredentialsProvider("us-east-1", client)());
    expect(e.problem).toBe("credentials");
    expect(e.message).toMatch(/no AWS credentials/);
    expect(e.message).not.toContain(secret);
    const incomplete = new EKSClient({ region: "us-east-1", credentials: async () => ({ accessKeyId: "AKIAX", secretAccessKey: "" }) });
    expect((await problemOf(createEksCredentialsProvider("us-east-1", incomplete)())).message).toMatch(/incomplete/);
  });
});

describe("getClusterAccess", () => {
  it("combines endpoint, CA and a cached token for the cluster", async () => {
    let now = Date.parse("2026-11-24T10:00:00Z");
    const cache = new EksTokenCache({ now: () => new Date(now) });
    const d = describer(active());
    const deps = { describe: d.fn, credentials: async () => ({ accessKeyId: "AKIAROTATORTESTKEY01", secretAccessKey: "rotator-test-secret-key" }), cache };
    const a = await getClusterAccess({ name: "c", region: "us-east-1" }, deps);
    expect(a.server).toBe("https://ABCDEF.gr7.us-east-1.eks.amazonaws.com");
    expect(a.caData).toBe(CA);
    expect(a.expiresAt.toISOString()).toBe("2026-11-24T10:14:00.000Z");
    expect(decodeEksToken(a.token).host).toBe("sts.us-east-1.amazonaws.com");
    now += 5 * 60_000;
    expect((await getClusterAccess({ name: "c", region: "us-east-1" }, deps)).token).toBe(a.token);
    expect(cache.signed).toBe(1);
  });

  it("names the cluster when credentials fail, and does not sign", async () => {
    const cache = new EksTokenCache();
    const e = await problemOf(
      getClusterAccess(
        { name: "c", region: "us-east-1" },
        { describe: describer(active()).fn, credentials: async () => Promise.reject(new Error("no chain")), cache },
      ),
    );
    expect(e.problem).toBe("credentials");
    expect(e.message).toMatch(/EKS cluster c \(us-east-1\).*no chain/);
    expect(cache.signed).toBe(0);
  });
});
