/**
 * The esbuild bundle that Lambda runs (handler/rotate.mjs of the global setup's build),
 * loaded in a fresh Node 22 process and invoked against moto.
 */
import { execFile } from "node:child_process";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { motoEnv, startMoto, type MotoServer } from "../support/moto";
import { distPath } from "../support/dist";

let moto: MotoServer;
beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});

function invokeBundle(event: unknown, env: Record<string, string>): Promise<{ stdout: string; stderr: string }> {
  const script = `
    const { handler } = await import(${JSON.stringify(pathToFileURL(distPath("handler", "rotate.mjs")).href)});
    try { const r = await handler(${JSON.stringify(event)}); console.log("RESULT " + JSON.stringify(r)); }
    catch (e) { console.log("ERROR " + e.name + ": " + e.message); }
`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ["--input-type=module", "-e", script], { env: { PATH: process.env.PATH ?? "", ...env } }, (error, stdout, stderr) =>
      error ? reject(new Error(error.message, { cause: error })) : resolve({ stdout, stderr }),
    );
  });
}

describe("the Lambda bundle", () => {
  it("loads, reaches ECR over HTTP, and fails loudly on moto's 2015 token (judged by the real clock)", async () => {
    const out = await invokeBundle({ action: "rotate" }, { ...motoEnv(moto.url), ECR_REGISTRIES: "123456789012.dkr.ecr.us-east-1.amazonaws.com" });
    expect(out.stdout).toMatch(/ERROR RunFailedError: ecr-token-rotator run failed: .*already expired at 2015-01-01/);
    expect(out.stdout + out.stderr).toContain('"message":"invocation summary"');
  });

  it("bad configuration: validated at cold start, every invocation fails with the full list", async () => {
    const out = await invokeBundle(
      { action: "rotate" },
      { ...motoEnv(moto.url), ECR_REGISTRIES: "12345.dkr.ecr.us-east-1.amazonaws.com", FALLBACK_MODE: "sometimes" },
    );
    expect(out.stdout).toMatch(/ERROR ConfigError: invalid configuration \(2 problems\)/);
    expect(out.stdout).toContain("ECR_REGISTRIES");
    expect(out.stdout).toContain("FALLBACK_MODE");
  });

  it("answers an alarm returning to OK without any AWS call, and rejects junk", async () => {
    const ok = await invokeBundle(
      { source: "aws.cloudwatch", alarmData: { alarmName: "a", state: { value: "OK" }, previousState: { value: "ALARM" } } },
      { ...motoEnv(moto.url) },
    );
    expect(ok.stdout).toMatch(/RESULT .*"action":"none"/);
    const junk = await invokeBundle({ foo: 1 }, { ...motoEnv(moto.url) });
    expect(junk.stdout).toContain('ERROR BadRequestError: unsupported event: got an object with keys "foo"');
  });
});
