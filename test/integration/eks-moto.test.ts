/**
 * Cluster connection against a real moto server: CreateCluster through the EKS API, then
 * DescribeCluster resolution through the product's SDK-backed factory (real HTTP, real SDK
 * serialisation, AWS_ENDPOINT_URL honoured). moto's CA data is random (not a PEM), so this
 * checks only that resolution returns what DescribeCluster said, and that an endpoint/CA
 * override skips the call.
 */
import { CreateClusterCommand, DescribeClusterCommand, EKSClient } from "@aws-sdk/client-eks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEksCredentialsProvider, EksConnectionError, getClusterAccess, resolveClusterConnection, sdkDescribeCluster } from "../../src/eks/connection";
import { decodeEksToken } from "../../src/eks/token";
import { EksTokenCache } from "../../src/eks/token-cache";
import { motoEnv, startMoto, type MotoServer } from "../support/moto";

let moto: MotoServer;
let admin: EKSClient;
const savedEnv = { ...process.env };
const CA_OVERRIDE = Buffer.from("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").toString("base64");

beforeAll(async () => {
  moto = await startMoto();
  Object.assign(process.env, motoEnv(moto.url));
  admin = new EKSClient({ region: "us-east-1" });
  for (const name of ["test-cluster", "second"]) {
    await admin.send(
      new CreateClusterCommand({
        name,
        roleArn: "arn:aws:iam::123456789012:role/eks-cluster",
        resourcesVpcConfig: { subnetIds: ["subnet-11111111", "subnet-22222222"] },
      }),
    );
  }
});

afterAll(async () => {
  admin?.destroy();
  await moto?.stop();
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
});

describe("EKS connection against moto", () => {
  it("resolves endpoint and CA exactly as DescribeCluster reports them", async () => {
    const truth = (await admin.send(new DescribeClusterCommand({ name: "test-cluster" }))).cluster!;
    expect(truth.status).toBe("ACTIVE");
    expect(truth.endpoint).toMatch(/^https:\/\//);
    expect(truth.certificateAuthority?.data).toBeTruthy();
    const got = await resolveClusterConnection(sdkDescribeCluster("us-east-1"), { name: "test-cluster", region: "us-east-1" });
    expect(got).toEqual({ server: truth.endpoint!.replace(/\/+$/, ""), caData: truth.certificateAuthority!.data });
    // a second cluster gets its own answer
    const other = await resolveClusterConnection(sdkDescribeCluster("us-east-1"), { name: "second", region: "us-east-1" });
    expect(other.caData).not.toBe(got.caData);
  });

  it("reports a cluster that does not exist as not-found, naming it", async () => {
    const e = await resolveClusterConnection(sdkDescribeCluster("us-east-1"), { name: "missing", region: "us-east-1" }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(EksConnectionError);
    expect((e as EksConnectionError).problem).toBe("not-found");
    expect((e as EksConnectionError).message).toMatch(/EKS cluster missing \(us-east-1\) does not exist/);
  });

  it("skips DescribeCluster when the cluster carries an endpoint and CA override", async () => {
    let calls = 0;
    const sdk = sdkDescribeCluster("us-east-1");
    const counting = async (name: string) => {
      calls += 1;
      return sdk(name);
    };
    const got = await resolveClusterConnection(counting, { name: "missing", region: "us-east-1", endpoint: "https://127.0.0.1:6443", caData: CA_OVERRIDE });
    expect(got).toEqual({ server: "https://127.0.0.1:6443", caData: CA_OVERRIDE });
    expect(calls).toBe(0);
    await resolveClusterConnection(counting, { name: "test-cluster", region: "us-east-1" });
    expect(calls).toBe(1);
  });

  it("signs a token with the default credential chain (here: the environment) for the resolved cluster", async () => {
    const cache = new EksTokenCache({ now: () => new Date("2026-11-24T10:00:00Z") });
    const access = await getClusterAccess(
      { name: "test-cluster", region: "us-east-1" },
      { describe: sdkDescribeCluster("us-east-1"), credentials: createEksCredentialsProvider("us-east-1"), cache },
    );
    const url = decodeEksToken(access.token);
    expect(url.host).toBe("sts.us-east-1.amazonaws.com");
    expect(url.searchParams.get("X-Amz-Credential")).toBe("testing/20261124/us-east-1/sts/aws4_request");
    expect(url.searchParams.get("X-Amz-Security-Token")).toBe("testing");
    expect(access.server).toMatch(/^https:\/\//);
  });
});
