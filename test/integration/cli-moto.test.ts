/**
 * The CLI as an operator runs it (bin/ecr-token-rotator.mjs → dist/cli.mjs), against moto.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { motoEnv, startMoto, type MotoServer } from "../support/moto";
import { distEnv } from "../support/dist";

const USE1 = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const EUW1 = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const TOKEN_CLOCK = "2014-12-31T12:30:00Z"; // moto's token expires 2015-01-01T00:00:00Z

let moto: MotoServer;
const dir = mkdtempSync(join(tmpdir(), "cli-test-"));

function cli(args: string[], env: Record<string, string> = {}, input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ["bin/ecr-token-rotator.mjs", ...args],
      {
        env: {
          PATH: process.env.PATH ?? "",
          ...distEnv(),
          ...motoEnv(moto.url),
          ECR_REGISTRIES: `${USE1},${EUW1}`,
          SECRET_NAME: "ecr/{region}/credentials",
          ...env,
        },
      },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}

beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await moto.reset();
});

describe("ecr-token-rotator CLI", () => {
  it("rotate prints a table and exits 0; --json prints the Report", async () => {
    const human = await cli(["rotate", "--now", TOKEN_CLOCK]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^OK {2}action=rotate trigger=cli/);
    expect(human.stdout).toMatch(/123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com\s+ecr\/eu-west-1\/credentials\s+created/);
    const json = await cli(["rotate", "--json", "--now", TOKEN_CLOCK, "--registry", EUW1, "--dry-run"]);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({ ok: true, dryRun: true, ecrCalls: 1, registries: [{ registry: EUW1, outcome: "unchanged" }] });
  });

  it("a failed run exits 1 with the reason; moto's 2015 expiry is refused without --now", async () => {
    const out = await cli(["rotate"]);
    expect(out.code).toBe(1);
    expect(out.stdout).toContain("already expired");
  });

  it("invoke replays Lambda events through the handler path", async () => {
    const alarm = join(dir, "alarm.json");
    writeFileSync(
      alarm,
      JSON.stringify({
        source: "aws.cloudwatch",
        alarmArn: "arn:aws:cloudwatch:us-east-1:123456789012:alarm:pulls",
        accountId: "123456789012",
        time: "2026-11-24T08:00:00Z",
        region: "us-east-1",
        alarmData: {
          alarmName: "pulls",
          state: { value: "ALARM", reason: "r", timestamp: "t" },
          previousState: { value: "OK", reason: "r", timestamp: "t" },
          configuration: { metrics: [] },
        },
      }),
    );
    const heal = await cli(["invoke", "--event", alarm, "--json", "--now", TOKEN_CLOCK]);
    expect(heal.code).toBe(0);
    expect(JSON.parse(heal.stdout)).toMatchObject({
      action: "heal",
      trigger: { kind: "alarm", via: "alarm-action", alarmName: "pulls" },
      registries: [{ outcome: "created" }, { outcome: "created" }],
    });
    const schedule = await cli(["invoke", "--event", "-", "--now", TOKEN_CLOCK], {}, '{"action":"rotate","source":"schedule"}');
    expect(schedule.code).toBe(0);
    expect(schedule.stdout).toContain("trigger=scheduler-input");
  });

  it("bad usage, bad requests and bad configuration exit 2 with a precise message", async () => {
    expect(await cli(["rotate", "--bogus"])).toMatchObject({ code: 2, stderr: expect.stringContaining("--bogus") });
    expect(await cli(["rotate", "--cluster", "x"])).toMatchObject({ code: 2, stderr: expect.stringContaining("--cluster is not an option of rotate") });
    expect(await cli(["frobnicate"])).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown command "frobnicate"') });
    expect(await cli(["rotate", "--registry", "999999999999.dkr.ecr.us-east-1.amazonaws.com", "--now", TOKEN_CLOCK])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("not configured"),
    });
    const badConfig = await cli(["rotate"], { ECR_REGISTRIES: "nope", KMS_KEY_ID: "bad key" });
    expect(badConfig.code).toBe(2);
    expect(badConfig.stderr).toContain("ECR_REGISTRIES");
    expect(badConfig.stderr).toContain("KMS_KEY_ID");
    const notJson = join(dir, "bad.json");
    writeFileSync(notJson, "{nope");
    expect(await cli(["invoke", "--event", notJson])).toMatchObject({ code: 2, stderr: expect.stringContaining("is not JSON") });
  });
});
