/** CLI `--timeout SECONDS`: validated before anything runs (the deadline itself is proven on the bed: test/integration/heal-safety-bed.test.ts). */
import { expect, it } from "vitest";
import { runCli } from "../../src/cli/main";

async function cli(args: string[], env: Record<string, string> = { AWS_REGION: "us-east-1" }) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, { env, stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), readStdin: async () => "" });
  return { code, stdout, stderr };
}

it.each([["abc"], ["0"], ["-5"], ["1e3"], ["86401"], [""]])("--timeout %j → exit 2 with a precise message, nothing run", async (value) => {
  const out = await cli(["rotate", `--timeout=${value}`]);
  expect(out.code).toBe(2);
  expect(out.stderr).toContain(`--timeout ${JSON.stringify(value)}: expected a number of seconds from 0 (exclusive) to 86400`);
  expect(out.stdout).toBe("");
});

it("the usage text documents --timeout and its default", async () => {
  const out = await cli(["--help"]);
  expect(out.stdout).toMatch(/--timeout S\s+the run's deadline in seconds \(default 900\)/);
});
