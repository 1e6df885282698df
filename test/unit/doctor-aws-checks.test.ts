// The AWS half of the doctor as data (AWS_CHECKS, runAwsChecks): every need is provided by an
// entry before it; lines come in list order whatever finishes first; a check starts only once
// the checks providing its needs have finished; a check whose need is not met is skipped with
// that need's reason under its own names. What each real check says: test/integration/doctor.test.ts.
import { describe, expect, it } from "vitest";
import { AWS_CHECKS, runAwsChecks } from "../../src/doctor/doctor";
import { unmetAws, type AwsCheck, type AwsNeed, type AwsRun } from "../../src/doctor/aws-context";
import { pass } from "../../src/doctor/check";

const emptyRun = (extra: Partial<AwsRun> = {}): AwsRun => ({ ...extra }) as unknown as AwsRun;

/** A check of one line `name`, resolving when `gate` does, recording when it ran. */
function check(
  name: string,
  needs: AwsNeed[],
  log: string[],
  options: { provides?: AwsNeed; gate?: Promise<void>; effect?: (run: AwsRun) => void } = {},
): AwsCheck {
  return {
    names: () => [name],
    needs,
    ...(options.provides ? { provides: options.provides } : {}),
    run: async (run) => {
      log.push(`start ${name}`);
      await options.gate;
      options.effect?.(run);
      log.push(`end ${name}`);
      return [pass(name, "ok")];
    },
  };
}

describe("AWS_CHECKS", () => {
  it("every need of an entry is provided by an entry before it, and each need by one entry only", () => {
    const provided = new Set<AwsNeed>();
    for (const entry of AWS_CHECKS) {
      for (const need of entry.needs) expect(provided.has(need), `a need before its provider: ${need}`).toBe(true);
      if (entry.provides) {
        expect(provided.has(entry.provides)).toBe(false);
        provided.add(entry.provides);
      }
    }
    expect([...provided].sort()).toEqual(["identity", "registries", "tokens"]);
  });
});

describe("runAwsChecks", () => {
  it("reports lines in list order, and starts a check only after the checks providing its needs", async () => {
    const log: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const list = [check("first", [], log, { provides: "identity", gate }), check("side", [], log), check("after", ["identity"], log)];
    const running = runAwsChecks(emptyRun(), list);
    await new Promise((resolve) => setImmediate(resolve)); // every microtask has run: what can start has
    expect(log).toEqual(["start first", "start side", "end side"]);
    open();
    const lines = await running;
    expect(lines.map((l) => l.name)).toEqual(["first", "side", "after"]);
    expect(log.indexOf("start after")).toBeGreaterThan(log.indexOf("end first"));
  });

  it("skips a check whose need is not met, with the need's reason, under each of its names; the others run", async () => {
    const log: string[] = [];
    const list: AwsCheck[] = [
      check("aws identity", [], log, { provides: "identity", effect: (run) => (run.credentialsFault = { kind: "missing" }) }),
      { names: () => ["needs a", "needs b"], needs: ["identity"], run: () => Promise.reject(new Error("must not run")) },
      check("free", [], log),
    ];
    const lines = await runAwsChecks(emptyRun(), list);
    expect(lines.map((l) => `${l.status} ${l.name}`)).toEqual(["pass aws identity", "skip needs a", "skip needs b", "pass free"]);
    expect(lines[1]!.detail).toBe("no AWS credentials: see aws identity");
  });

  it("a need no earlier entry provides is a programming error, said as such", async () => {
    await expect(runAwsChecks(emptyRun(), [check("x", ["tokens"], [])])).rejects.toThrow(/needs "tokens", which no check before it provides/);
  });
});

describe("unmetAws", () => {
  it("names the credentials' fault; the other needs are always met once provided", () => {
    expect(unmetAws(emptyRun(), "identity")).toBeUndefined();
    expect(unmetAws(emptyRun({ credentialsFault: { kind: "refused", sdkName: "InvalidClientTokenId" } }), "identity")).toBe(
      "the AWS credentials were refused (InvalidClientTokenId): see aws identity",
    );
    expect(unmetAws(emptyRun({ credentialsFault: { kind: "expired", sdkName: "ExpiredToken" } }), "identity")).toBe(
      "the AWS credentials have expired (ExpiredToken): see aws identity",
    );
    expect(unmetAws(emptyRun({ credentialsFault: { kind: "missing" } }), "tokens")).toBeUndefined();
  });
});
