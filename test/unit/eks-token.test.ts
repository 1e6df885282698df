import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createEksToken, decodeEksToken, partitionDnsSuffix, presignGetCallerIdentityUrl, stsHost } from "../../src/eks/token";

const CREDS = { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" };
const SESSION = {
  accessKeyId: "ASIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  sessionToken: "IQoJb3JpZ2luX2VjE/abc+def==",
};
const NOW = new Date("2026-11-24T10:00:00.000Z");

/** What aws-iam-authenticator's Verify() accepts (docs/facts.md §5). */
const ALLOWED = new Set([
  "Action",
  "Version",
  "X-Amz-Algorithm",
  "X-Amz-Credential",
  "X-Amz-Date",
  "X-Amz-Expires",
  "X-Amz-Security-Token",
  "X-Amz-Signature",
  "X-Amz-SignedHeaders",
]);

function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * An independent SigV4 presigned-URL verifier written from the spec with node:crypto (as the test
 * bed's webhook and STS do): recomputes X-Amz-Signature for the given secret key and cluster.
 */
function expectedSignature(url: URL, secretAccessKey: string, clusterName: string): string {
  const params = [...url.searchParams.entries()].filter(([k]) => k !== "X-Amz-Signature");
  const canonicalQuery = params
    .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const signedHeaders = url.searchParams.get("X-Amz-SignedHeaders")!;
  const headerValues: Record<string, string> = { host: url.host, "x-k8s-aws-id": clusterName };
  const canonicalHeaders = signedHeaders
    .split(";")
    .map((h) => `${h}:${headerValues[h]}\n`)
    .join("");
  const canonicalRequest = ["GET", url.pathname, canonicalQuery, canonicalHeaders, signedHeaders, createHash("sha256").update("").digest("hex")].join("\n");
  const date = url.searchParams.get("X-Amz-Date")!;
  const [, shortDate, region, service] = url.searchParams.get("X-Amz-Credential")!.split("/");
  const scope = `${shortDate}/${region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", date, scope, createHash("sha256").update(canonicalRequest).digest("hex")].join("\n");
  let key: Buffer = createHmac("sha256", `AWS4${secretAccessKey}`).update(shortDate!).digest();
  for (const part of [region!, service!, "aws4_request"]) key = createHmac("sha256", key).update(part).digest();
  return createHmac("sha256", key).update(stringToSign).digest("hex");
}

describe("createEksToken", () => {
  it("is k8s-aws-v1. + base64url without padding of a presigned STS GetCallerIdentity URL", async () => {
    for (const clusterName of ["a", "test-cluster", "prod_cluster-01", "x".repeat(100)]) {
      const { token } = await createEksToken({ clusterName, region: "eu-west-1", credentials: CREDS, now: NOW });
      expect(token.startsWith("k8s-aws-v1.")).toBe(true);
      const body = token.slice("k8s-aws-v1.".length);
      expect(body).toMatch(/^[A-Za-z0-9_-]+$/); // base64url alphabet, no '=' padding
      expect(token.length).toBeLessThanOrEqual(4096);
      const url = decodeEksToken(token);
      expect(url.protocol).toBe("https:");
      expect(url.host).toBe("sts.eu-west-1.amazonaws.com");
      expect(url.pathname).toBe("/");
      expect(url.searchParams.get("Action")).toBe("GetCallerIdentity");
      expect(url.searchParams.get("Version")).toBe("2011-06-15");
      expect(expectedSignature(url, CREDS.secretAccessKey, clusterName)).toBe(url.searchParams.get("X-Amz-Signature"));
      // signed for this cluster only
      expect(expectedSignature(url, CREDS.secretAccessKey, `${clusterName}-other`)).not.toBe(url.searchParams.get("X-Amz-Signature"));
    }
  });

  it("encodes the URL as base64url without padding, whatever the URL's length mod 3", async () => {
    const remainders = new Set<number>();
    for (const sessionToken of ["a", "ab", "abc", "abcd"]) {
      const params = { clusterName: "c", region: "us-east-1", credentials: { ...SESSION, sessionToken }, now: NOW };
      const { url } = await presignGetCallerIdentityUrl(params);
      const { token } = await createEksToken(params);
      remainders.add(url.length % 3);
      const expected = Buffer.from(url).toString("base64").replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
      expect(token).toBe(`k8s-aws-v1.${expected}`);
      expect(token).not.toMatch(/[=+/]/);
    }
    expect(remainders.size).toBe(3);
  });

  it("carries only the query parameters the verifier accepts, once each, Expires 60, x-k8s-aws-id signed", async () => {
    for (const credentials of [CREDS, SESSION]) {
      const { token } = await createEksToken({ clusterName: "test-cluster", region: "us-east-1", credentials, now: NOW });
      const url = decodeEksToken(token);
      const keys = [...url.searchParams.keys()];
      expect(new Set(keys).size).toBe(keys.length);
      for (const key of keys) expect(ALLOWED.has(key), key).toBe(true);
      expect(url.searchParams.get("X-Amz-Expires")).toBe("60");
      expect(url.searchParams.get("X-Amz-Algorithm")).toBe("AWS4-HMAC-SHA256");
      expect(url.searchParams.get("X-Amz-SignedHeaders")!.split(";")).toEqual(["host", "x-k8s-aws-id"]);
      expect(url.searchParams.get("X-Amz-Credential")).toBe(`${credentials.accessKeyId}/20261124/us-east-1/sts/aws4_request`);
      expect(url.searchParams.get("X-Amz-Date")).toBe("20261124T100000Z");
      expect(url.searchParams.get("X-Amz-Security-Token")).toBe("sessionToken" in credentials ? credentials.sessionToken : null);
      expect(keys.at(-1)).toBe("X-Amz-Signature");
      expect(url.searchParams.get("X-Amz-Signature")).toMatch(/^[0-9a-f]{64}$/);
      expect(expectedSignature(url, credentials.secretAccessKey, "test-cluster")).toBe(url.searchParams.get("X-Amz-Signature"));
    }
  });

  it("writes the query in the AWS CLI's (botocore's) order, percent-encoding the session token", async () => {
    const { url } = await presignGetCallerIdentityUrl({ clusterName: "c", region: "us-east-1", credentials: SESSION, now: NOW });
    const query = url.slice(url.indexOf("?") + 1);
    expect(query.split("&").map((p) => p.split("=")[0])).toEqual([
      "Action",
      "Version",
      "X-Amz-Algorithm",
      "X-Amz-Credential",
      "X-Amz-Date",
      "X-Amz-Expires",
      "X-Amz-SignedHeaders",
      "X-Amz-Security-Token",
      "X-Amz-Signature",
    ]);
    expect(query).toContain("X-Amz-Security-Token=IQoJb3JpZ2luX2VjE%2Fabc%2Bdef%3D%3D&");
    expect(query).toContain("X-Amz-Credential=ASIAIOSFODNN7EXAMPLE%2F20261124%2Fus-east-1%2Fsts%2Faws4_request&");
    expect(query).toContain("X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&");
  });

  it("expires 14 min after X-Amz-Date, truncated to the second like the signature", async () => {
    const { token, expiresAt } = await createEksToken({ clusterName: "c", region: "us-east-1", credentials: CREDS, now: new Date("2026-11-24T10:00:59.987Z") });
    expect(decodeEksToken(token).searchParams.get("X-Amz-Date")).toBe("20261124T100059Z");
    expect(expiresAt.toISOString()).toBe("2026-11-24T10:14:59.000Z");
  });

  it("is deterministic for the same inputs and changes with time, key and cluster", async () => {
    const base = { clusterName: "c", region: "us-east-1", credentials: CREDS, now: NOW };
    const a = await createEksToken(base);
    expect((await createEksToken(base)).token).toBe(a.token);
    expect((await createEksToken({ ...base, now: new Date(NOW.getTime() + 1000) })).token).not.toBe(a.token);
    expect((await createEksToken({ ...base, clusterName: "d" })).token).not.toBe(a.token);
    expect((await createEksToken({ ...base, credentials: { ...CREDS, secretAccessKey: "other" } })).token).not.toBe(a.token);
  });

  it("uses the regional STS host of the region's partition", async () => {
    const cases: Array<[string, string]> = [
      ["us-east-1", "sts.us-east-1.amazonaws.com"],
      ["ap-southeast-7", "sts.ap-southeast-7.amazonaws.com"],
      ["us-gov-west-1", "sts.us-gov-west-1.amazonaws.com"],
      ["cn-north-1", "sts.cn-north-1.amazonaws.com.cn"],
      ["cn-northwest-1", "sts.cn-northwest-1.amazonaws.com.cn"],
      ["us-iso-east-1", "sts.us-iso-east-1.c2s.ic.gov"],
      ["us-isob-east-1", "sts.us-isob-east-1.sc2s.sgov.gov"],
      ["eu-isoe-west-1", "sts.eu-isoe-west-1.cloud.adc-e.uk"],
      ["us-isof-south-1", "sts.us-isof-south-1.csp.hci.ic.gov"],
      ["eusc-de-east-1", "sts.eusc-de-east-1.amazonaws.eu"],
    ];
    for (const [region, host] of cases) {
      expect(stsHost(region)).toBe(host);
      const { token } = await createEksToken({ clusterName: "c", region, credentials: CREDS, now: NOW });
      const url = decodeEksToken(token);
      expect(url.host).toBe(host);
      expect(url.searchParams.get("X-Amz-Credential")).toBe(`${CREDS.accessKeyId}/20261124/${region}/sts/aws4_request`);
    }
    expect(partitionDnsSuffix("cn-north-1")).toBe("amazonaws.com.cn");
  });

  it("rejects a bad region, an empty cluster name and incomplete credentials without echoing secrets", async () => {
    await expect(createEksToken({ clusterName: "c", region: "evil.com/x", credentials: CREDS, now: NOW })).rejects.toThrow(/not an AWS region/);
    await expect(createEksToken({ clusterName: "c", region: "US-EAST-1", credentials: CREDS, now: NOW })).rejects.toThrow(/not an AWS region/);
    await expect(createEksToken({ clusterName: "", region: "us-east-1", credentials: CREDS, now: NOW })).rejects.toThrow(/cluster name/);
    const err = await createEksToken({ clusterName: "c", region: "us-east-1", credentials: { accessKeyId: "AKIAX", secretAccessKey: "" }, now: NOW }).catch(
      (e: Error) => e,
    );
    expect((err as Error).message).toMatch(/credentials are incomplete/);
    const err2 = await createEksToken({
      clusterName: "c",
      region: "us-east-1",
      credentials: { accessKeyId: "", secretAccessKey: "s3cr3t-value" },
      now: NOW,
    }).catch((e: Error) => e);
    expect(`${(err2 as Error).name}: ${(err2 as Error).message}`).not.toContain("s3cr3t-value");
  });
});
