/**
 * The product's EKS tokens against the real kube-apiserver of the test bed, whose TokenReview
 * webhook checks them as aws-iam-authenticator + STS do (URL rules, SigV4 signature recomputed
 * from the test identities' secret keys, 15-minute window, cluster id). The connection comes
 * from the cluster's endpoint/CA override, as the fallback uses it for the bed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eksTokenCommand } from "../../src/cli/eks-token";
import { getClusterAccess } from "../../src/eks/connection";
import { createEksToken } from "../../src/eks/token";
import { EksTokenCache } from "../../src/eks/token-cache";
import { startBed, type Bed, type BedIdentity } from "../bed/index";
import { whoami, whoamiAt } from "../bed/tokens";

const withSession: BedIdentity = {
  accessKeyId: "ASIASESSIONTESTKEY01",
  secretAccessKey: "session-test-secret-key",
  sessionToken: "IQoJb3JpZ2luX2VjE/session+token==",
  arn: "arn:aws:iam::123456789012:role/ecr-token-rotator-session",
  username: "rotator-session",
  groups: ["ecr-token-rotator"],
};

let bed: Bed;
let rotator: { accessKeyId: string; secretAccessKey: string };

beforeAll(async () => {
  bed = await startBed({ identities: { withSession } });
  const id = bed.identities.rotator!;
  rotator = { accessKeyId: id.accessKeyId, secretAccessKey: id.secretAccessKey };
});

afterAll(async () => {
  await bed?.stop();
});

describe("EKS tokens on the test bed's kube-apiserver", () => {
  it("a token from createEksToken authenticates as ecr-token-rotator (direct and through the proxy)", async () => {
    const { token } = await createEksToken({ clusterName: bed.clusterName, region: bed.region, credentials: rotator });
    const direct = await whoami(bed, token);
    expect(direct.status, direct.body).toBe(201);
    expect(direct.username).toBe("ecr-token-rotator");
    expect(direct.groups).toContain("ecr-token-rotator");
    const proxied = await whoami(bed, token, true);
    expect(proxied.username).toBe("ecr-token-rotator");
  });

  it("temporary credentials (X-Amz-Security-Token) authenticate too", async () => {
    const { token } = await createEksToken({ clusterName: bed.clusterName, region: bed.region, credentials: withSession });
    const res = await whoami(bed, token);
    expect(res.status, res.body).toBe(201);
    expect(res.username).toBe("rotator-session");
  });

  it("getClusterAccess with the bed's endpoint/CA override reaches and authenticates without DescribeCluster", async () => {
    let describeCalls = 0;
    const access = await getClusterAccess(
      { name: bed.clusterName, region: bed.region, endpoint: bed.proxyUrl, caData: bed.caData },
      {
        describe: async () => {
          describeCalls += 1;
          throw new Error("DescribeCluster must not be called with an override");
        },
        credentials: async () => rotator,
        cache: new EksTokenCache(),
      },
    );
    expect(describeCalls).toBe(0);
    const who = await whoamiAt(access.server, Buffer.from(access.caData, "base64").toString("utf8"), access.token);
    const res = { status: who.status, ...(who.username !== undefined ? { username: who.username } : {}) };
    expect(res).toEqual({ status: 201, username: "ecr-token-rotator" });
  });

  it("the eks-token command's ExecCredential token authenticates", async () => {
    let out = "";
    const code = await eksTokenCommand(["--cluster", bed.clusterName, "--region", bed.region], {
      env: { AWS_ACCESS_KEY_ID: rotator.accessKeyId, AWS_SECRET_ACCESS_KEY: rotator.secretAccessKey },
      stdout: (t) => (out += t),
    });
    expect(code).toBe(0);
    const res = await whoami(bed, JSON.parse(out).status.token);
    expect(res.username).toBe("ecr-token-rotator");
  });

  it("is refused (401) for another cluster, a wrong secret key, or outside the 15-minute window", async () => {
    const other = await createEksToken({ clusterName: "other-cluster", region: bed.region, credentials: rotator });
    expect((await whoami(bed, other.token)).status).toBe(401);
    expect((await bed.decisions()).at(-1)?.reason).toMatch(/SignatureDoesNotMatch/);
    const wrongKey = await createEksToken({ clusterName: bed.clusterName, region: bed.region, credentials: { ...rotator, secretAccessKey: "not-the-key" } });
    expect((await whoami(bed, wrongKey.token)).status).toBe(401);
    expect((await bed.decisions()).at(-1)?.reason).toMatch(/SignatureDoesNotMatch/);
    const old = await createEksToken({ clusterName: bed.clusterName, region: bed.region, credentials: rotator, now: new Date(Date.now() - 16 * 60_000) });
    expect((await whoami(bed, old.token)).status).toBe(401);
    expect((await bed.decisions()).at(-1)?.reason).toMatch(/expired/);
    // still fine 13 minutes in (a cached token is reused at most that long)
    const reused = await createEksToken({ clusterName: bed.clusterName, region: bed.region, credentials: rotator, now: new Date(Date.now() - 13 * 60_000) });
    expect((await whoami(bed, reused.token)).username).toBe("ecr-token-rotator");
  });
});
