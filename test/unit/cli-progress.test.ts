/**
 * Progress of the Kubernetes step (src/cli/progress.ts): a rewritten line on a terminal; a line
 * every 10% or 5 s elsewhere (CI, tee, Lambda logs).
 */
import { describe, expect, it } from "vitest";
import { progressReporter } from "../../src/cli/progress";

describe("progress when the output is not a terminal", () => {
  it("one line per 10% done, plus the final one", () => {
    const lines: string[] = [];
    let t = 0;
    const report = progressReporter((s) => lines.push(s), { terminal: false, now: () => t });
    report("prod", 0, 1000);
    for (let done = 1; done <= 1000; done++) {
      t += 1; // 1 ms per namespace: time alone never triggers a line
      report("prod", done, 1000);
    }
    expect(lines).toEqual([
      ...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((d) => `prod: ${d * 100}/1000 namespaces (${d * 10}%)\n`),
      "prod: 1000/1000 namespaces (100%), done\n",
    ]);
    expect(lines.every((l) => !l.includes("\r"))).toBe(true);
  });

  it("a line every 5 s while a slow cluster makes less than 10% progress", () => {
    const lines: string[] = [];
    let t = 0;
    const report = progressReporter((s) => lines.push(s), { terminal: false, now: () => t });
    report("slow", 0, 1000);
    for (let done = 1; done <= 30; done++) {
      t += 1000; // one namespace a second
      report("slow", done, 1000);
    }
    expect(lines).toEqual([
      "slow: 5/1000 namespaces (0%)\n",
      "slow: 10/1000 namespaces (1%)\n",
      "slow: 15/1000 namespaces (1%)\n",
      "slow: 20/1000 namespaces (2%)\n",
      "slow: 25/1000 namespaces (2%)\n",
      "slow: 30/1000 namespaces (3%)\n",
    ]);
  });

  it("clusters are tracked separately; an empty cluster reports done once", () => {
    const lines: string[] = [];
    const report = progressReporter((s) => lines.push(s), { terminal: false, now: () => 0 });
    report("a", 0, 0);
    report("b", 0, 2);
    report("b", 1, 2);
    report("b", 2, 2);
    expect(lines).toEqual(["a: 0/0 namespaces (100%), done\n", "b: 1/2 namespaces (50%)\n", "b: 2/2 namespaces (100%), done\n"]);
  });
});

describe("progress on a terminal", () => {
  it("rewrites one line at most every 100 ms and ends it with a newline", () => {
    const lines: string[] = [];
    let t = 0;
    const report = progressReporter((s) => lines.push(s), { terminal: true, now: () => t });
    report("prod", 0, 3);
    t = 50;
    report("prod", 1, 3);
    t = 200;
    report("prod", 2, 3);
    report("prod", 3, 3);
    expect(lines).toEqual(["\rprod: 0/3 namespaces", "\rprod: 2/3 namespaces", "\rprod: 3/3 namespaces\n"]);
  });
});
