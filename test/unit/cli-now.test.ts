/** `--now` takes an ISO-8601 instant only (issue 19 §3): `1` and `Tue Dec 08 2026` are refused. */
import { describe, expect, it } from "vitest";
import { clock, parseCommandLine, parseIsoInstant, UsageError } from "../../src/cli/options";

describe("--now", () => {
  it.each(["1", "Tue Dec 08 2026", "2026-12-08", "2026-12-08T10:00:00", "2026-02-30T00:00:00Z", "2026-12-08T24:00:00Z", "2026-13-01T00:00:00Z", "yesterday"])(
    "refuses %j (not an ISO-8601 instant)",
    (value) => {
      expect(() => parseCommandLine("rotate", ["--now", value])).toThrow(UsageError);
      expect(() => clock(value)).toThrow(/is not an ISO-8601 instant: expected a date, a time and a zone/);
    },
  );

  it.each([
    ["2014-12-31T12:30:00Z", "2014-12-31T12:30:00.000Z"],
    ["2014-12-31T12:30Z", "2014-12-31T12:30:00.000Z"],
    ["2014-12-31T12:30:00.5Z", "2014-12-31T12:30:00.500Z"],
    ["2014-12-31T14:30:00+02:00", "2014-12-31T12:30:00.000Z"],
    ["2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000Z"],
  ])("accepts %j", (value, instant) => {
    expect(parseIsoInstant(value)?.toISOString()).toBe(instant);
    expect(parseCommandLine("rotate", ["--now", value]).now).toBeTypeOf("function");
  });
});
