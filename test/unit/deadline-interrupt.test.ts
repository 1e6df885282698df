/**
 * An interrupt (the CLI's first Ctrl-C) reaches the run's deadline at once: nothing new starts,
 * the signal aborts what is in flight, and what it cuts says `interrupted`, not `deadline`.
 */
import { describe, expect, it } from "vitest";
import { deadlineIn, DeadlineExceededError } from "../../src/shared/deadline";
import { deadlineProblem } from "../../src/shared/problem";
import { kubeRequestReason } from "../../src/shared/problem-text";
import { problemOf } from "../../src/kube/retry";

describe("an interruptible deadline", () => {
  it("is expired once interrupted, its cut errors and Problems say interrupted; before that, it is an ordinary deadline", async () => {
    const interrupt = new AbortController();
    const deadline = deadlineIn(60_000, { interrupt: interrupt.signal });
    expect(deadline.expired()).toBe(false);
    expect(deadline.cut("x").reason).toBe("deadline");
    const inFlight = deadline.race(new Promise<never>(() => undefined), "list namespaces");
    interrupt.abort();
    await expect(inFlight).rejects.toMatchObject({ name: "DeadlineExceededError", reason: "interrupted", message: "interrupted during list namespaces" });
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.interrupted()).toBe(true);
    expect(deadline.remainingMs()).toBe(0);
    expect(() => deadline.check("get secrets")).toThrow(DeadlineExceededError);
    expect(problemOf(deadline.cut("get secrets"))).toMatchObject({ kind: "deadline", interrupted: true });
    const reason = kubeRequestReason(deadlineProblem({ service: "kubernetes", verb: "list", resource: "namespaces" }, "", "interrupted"));
    expect(reason).toBe("interrupted: list namespaces cluster-wide not done (the run was interrupted)");
  });
});
