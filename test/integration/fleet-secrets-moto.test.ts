/**
 * Secrets read from other accounts and regions (issue 12 item 2) against a real moto server:
 *   - SECRET_READERS: every owned secret (registry and combined) carries the readers' resource
 *     policy, put once and left alone while it is right, replaced when the list changes;
 *   - SECRET_REPLICA_REGIONS: secrets are created with their replicas, existing owned secrets gain
 *     missing ones (ReplicateSecretToRegions), the ReplicationStatus read after the write is in the
 *     Report, and a replica in `Failed` is an error of the Report and the ReplicasFailed metric.
 * moto fails a replica when the replica region already holds a secret of that name, as AWS does.
 */
import { ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetResourcePolicyCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app";
import { runRequest } from "../../src/run/run";
import { parseManualRequest } from "../../src/request/triggers";
import { createHandler } from "../../handlers/rotate";
import { readerPolicy } from "../../src/rotation/secret-sharing";
import { motoEnv, startMoto, type MotoServer } from "../support/moto";

const HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const WEST_KEY = "arn:aws:kms:us-west-2:123456789012:key/5678abcd-12ab-34cd-56ef-1234567890ab";
const ESO_ROLE = "arn:aws:iam::444444444444:role/external-secrets";
let moto: MotoServer;
let tokenNow: () => Date;
const saved = { ...process.env };
const sm = (region = "us-east-1") => new SecretsManagerClient({ region });

beforeAll(async () => {
  moto = await startMoto();
  Object.assign(process.env, motoEnv(moto.url));
  const data = (await new ECRClient({ region: "us-east-1" }).send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!;
  tokenNow = () => new Date(data.expiresAt!.getTime() - 11 * 3600_000);
});
afterAll(async () => {
  await moto?.stop();
  process.env = saved;
});
beforeEach(async () => {
  await moto.reset();
});

function app(extra: Record<string, string>) {
  return createApp(
    {
      ...motoEnv(moto.url),
      ECR_REGISTRIES: HOST,
      SECRET_NAME: "ecr/{account}/{region}/credentials",
      COMBINED_SECRET_NAME: "ecr/all",
      KMS_KEY_ID: KEY,
      ...extra,
    },
    { tokenNow },
  );
}
const run = (a: ReturnType<typeof app>, fields: Record<string, unknown> = {}) =>
  runRequest(parseManualRequest({ action: "rotate", ...fields }), a.config, a.deps);
const SECRETS = ["ecr/123456789012/us-east-1/credentials", "ecr/all"];

describe("SECRET_READERS: resource policies on every owned secret", () => {
  it("puts the readers' policy on the registry and the combined secret, then leaves it alone", async () => {
    const a = app({ SECRET_READERS: `333333333333,${ESO_ROLE}` });
    const first = await run(a);
    expect(first.ok).toBe(true);
    expect(first.registries[0]!.resourcePolicy).toBe("put");
    expect(first.combinedSecret!.resourcePolicy).toBe("put");
    for (const name of SECRETS) {
      const policy = JSON.parse((await sm().send(new GetResourcePolicyCommand({ SecretId: name }))).ResourcePolicy!) as {
        Statement: Array<Record<string, unknown>>;
      };
      expect(policy.Statement).toEqual([
        {
          Sid: "EcrTokenRotatorReaders",
          Effect: "Allow",
          Principal: { AWS: ["arn:aws:iam::333333333333:root", ESO_ROLE] },
          Action: ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
          Resource: "*",
        },
      ]);
    }
    // the secret is encrypted with the customer-managed key readers need
    expect((await sm().send(new DescribeSecretCommand({ SecretId: SECRETS[0] }))).KmsKeyId).toBe(KEY);
    const second = await run(a, { force: true });
    expect(second.registries[0]!.resourcePolicy).toBe("unchanged");
    expect(second.combinedSecret!.resourcePolicy).toBe("unchanged");
  });

  it("a changed reader list replaces the policy; a dry run only says it would", async () => {
    await run(app({ SECRET_READERS: "333333333333" }));
    const dry = await run(app({ SECRET_READERS: ESO_ROLE }), { dryRun: true });
    expect(dry.registries[0]!.resourcePolicy).toBe("would-put");
    const before = (await sm().send(new GetResourcePolicyCommand({ SecretId: SECRETS[0] }))).ResourcePolicy!;
    expect(before).toContain("arn:aws:iam::333333333333:root");
    const changed = await run(app({ SECRET_READERS: ESO_ROLE }));
    expect(changed.registries[0]!.resourcePolicy).toBe("put");
    expect((await sm().send(new GetResourcePolicyCommand({ SecretId: SECRETS[0] }))).ResourcePolicy).toBe(readerPolicy([ESO_ROLE], "aws"));
  });
});

describe("SECRET_REPLICA_REGIONS", () => {
  it("secrets are created with their replicas; the status read after the write is in the Report", async () => {
    const report = await run(app({ SECRET_REPLICA_REGIONS: `eu-west-1,us-west-2:${WEST_KEY}` }));
    expect(report.ok).toBe(true);
    for (const row of [report.registries[0]!, report.combinedSecret!]) {
      expect(row.replicas).toEqual([
        { region: "eu-west-1", status: "InSync", message: "Replication succeeded" },
        { region: "us-west-2", status: "InSync", message: "Replication succeeded" },
      ]);
      expect(row.replicasAdded).toBeUndefined();
    }
    // the replica really exists and is readable in its region
    const replica = await sm("eu-west-1").send(new GetSecretValueCommand({ SecretId: SECRETS[0] }));
    expect(JSON.parse(replica.SecretString!)).toMatchObject({ registry_url: HOST });
  });

  it("existing owned secrets gain the missing replicas (also when the value is debounced)", async () => {
    await run(app({ SECRET_REPLICA_REGIONS: "eu-west-1" }));
    const dry = await run(app({ SECRET_REPLICA_REGIONS: "eu-west-1,ap-southeast-2" }), { dryRun: true });
    expect(dry.registries[0]!.replicasAdded).toEqual(["ap-southeast-2"]);
    expect((await sm().send(new DescribeSecretCommand({ SecretId: SECRETS[0] }))).ReplicationStatus!.map((r) => r.Region)).toEqual(["eu-west-1"]);
    const report = await run(app({ SECRET_REPLICA_REGIONS: "eu-west-1,ap-southeast-2" }));
    expect(report.ok).toBe(true);
    expect(report.registries[0]!.outcome).toBe("unchanged");
    expect(report.registries[0]!.replicasAdded).toEqual(["ap-southeast-2"]);
    expect(report.registries[0]!.replicas!.map((r) => `${r.region}:${r.status}`)).toEqual(["eu-west-1:InSync", "ap-southeast-2:InSync"]);
    const status = (await sm().send(new DescribeSecretCommand({ SecretId: SECRETS[0] }))).ReplicationStatus!;
    expect(status.map((r) => r.Region)).toEqual(["eu-west-1", "ap-southeast-2"]);
    // nothing missing any more: no further ReplicateSecretToRegions (the list does not grow)
    await run(app({ SECRET_REPLICA_REGIONS: "eu-west-1,ap-southeast-2" }), { force: true });
    expect((await sm().send(new DescribeSecretCommand({ SecretId: SECRETS[0] }))).ReplicationStatus).toHaveLength(2);
  });

  it("a replica in Failed is an error of the Report and the ReplicasFailed metric", async () => {
    // Someone already has a secret of that name in eu-central-1: replication there fails.
    await sm("eu-central-1").send(new CreateSecretCommand({ Name: SECRETS[0], SecretString: "{}" }));
    const a = app({ SECRET_REPLICA_REGIONS: "eu-west-1,eu-central-1" });
    const report = await run(a);
    expect(report.ok).toBe(false);
    const failed = report.registries[0]!.replicas!.find((r) => r.region === "eu-central-1")!;
    expect(failed.status).toBe("Failed");
    expect(report.errors).toEqual([`${SECRETS[0]}: replica in eu-central-1 Failed: ${failed.message}`]);
    expect(failed.message).toMatch(/already exists in region eu-central-1/);
    expect(report.registries[0]!.outcome).toBe("created"); // the value itself was written
    expect(report.combinedSecret!.replicas!.every((r) => r.status === "InSync")).toBe(true);

    // through the handler: the run fails and the metric counts the failed replica
    let captured = "";
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = (chunk: string | Uint8Array) => {
      captured += chunk.toString();
      return true;
    };
    try {
      const handler = createHandler(() => a);
      await expect(handler({ action: "rotate", force: true })).rejects.toThrow(/replica in eu-central-1 Failed/);
    } finally {
      process.stdout.write = write;
    }
    const emf = captured
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => "_aws" in l)!;
    expect(emf).toMatchObject({ RotationFailed: 1, ReplicasFailed: 1 });
  });
});
