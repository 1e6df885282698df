/**
 * What the CLI says while a request goes unanswered (src/cli/progress.ts waitingReporter), and
 * how a try's timeout shares the time left among the tries (src/shared/waiting.ts). Pure, a fake clock.
 */
import { describe, expect, it } from "vitest";
import { waitingLine, waitingReporter } from "../../src/cli/progress";
import { MIN_TRY_MS, tryTimeoutMs, type Waiting } from "../../src/shared/waiting";

const request = (since: number, attempt = 2): Waiting => ({
  url: "https://user:pw@ABC.gr7.us-east-1.eks.amazonaws.com",
  what: "list namespaces",
  try: { attempt, of: 5 },
  since,
});

describe("the waiting line", () => {
  it("names the host (never the credentials), the request, the try and the seconds waited", () => {
    expect(waitingLine([request(0)], 7_400)).toBe("waiting on ABC.gr7.us-east-1.eks.amazonaws.com for list namespaces (try 2 of 5): no answer for 7 s");
    expect(waitingLine([request(0), request(1), request(2)], 3_000)).toContain("; 2 more requests in flight");
    expect(waitingLine([], 0)).toBeUndefined();
  });

  it("in a log: a line once a request has waited 2 s, then at most every 5 s; nothing when nothing waits", () => {
    let t = 0;
    const lines: string[] = [];
    let inFlight: Waiting[] = [request(0)];
    const reporter = waitingReporter((text) => lines.push(text), { terminal: false, now: () => t, waiting: () => inFlight });
    for (t = 0; t <= 12_000; t += 1_000) reporter.tick();
    expect(lines.map((l) => l.replace(/.*no answer for /, ""))).toEqual(["2 s\n", "7 s\n", "12 s\n"]);
    inFlight = [];
    reporter.tick();
    reporter.stop();
    expect(lines).toHaveLength(3);
  });

  it("on a terminal: one line rewritten in place, cleared when the wait ends", () => {
    let t = 2_000;
    const out: string[] = [];
    let inFlight: Waiting[] = [request(0)];
    const reporter = waitingReporter((text) => out.push(text), { terminal: true, now: () => t, waiting: () => inFlight });
    reporter.tick();
    t = 3_000;
    reporter.tick();
    const CLEAR = "\r\x1b[K";
    expect(out.map((o) => o.replace(CLEAR, "<clear>"))).toEqual([
      expect.stringMatching(/^<clear>waiting on .* 2 s$/),
      expect.stringMatching(/^<clear>waiting on .* 3 s$/),
    ]);
    inFlight = [];
    reporter.tick();
    expect(out.at(-1)).toBe(CLEAR);
    reporter.stop();
    expect(out).toHaveLength(3);
  });
});

describe("a try's timeout fits the run's deadline", () => {
  it("keeps its cap when the tries left fit; else shares the time left, at least MIN_TRY_MS, never past the deadline", () => {
    expect(tryTimeoutMs(30_000, 900_000, { attempt: 1, of: 5 })).toBe(30_000);
    expect(tryTimeoutMs(30_000, 60_000, { attempt: 1, of: 5 })).toBe(12_000);
    expect(tryTimeoutMs(30_000, 8_000, { attempt: 1, of: 5 })).toBe(MIN_TRY_MS);
    expect(tryTimeoutMs(30_000, 3_000, { attempt: 2, of: 5 })).toBe(3_000);
    expect(tryTimeoutMs(30_000, Number.POSITIVE_INFINITY, { attempt: 1, of: 5 })).toBe(30_000);
    expect(tryTimeoutMs(30_000, 10_000, undefined)).toBe(10_000);
  });
});
