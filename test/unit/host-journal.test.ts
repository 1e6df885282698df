/**
 * The node's host journal on files it is pointed at (no root, nothing of the machine touched):
 * the hosts line goes in and comes out leaving the file byte-identical, and a lock left by a dead
 * process is taken over after its owner's leftovers were swept.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "host-journal-"));
const hosts = join(dir, "hosts");
let J: typeof import("../../test/bed/host-journal");

beforeAll(async () => {
  vi.stubEnv("ECR_BED_HOSTS_FILE", hosts);
  vi.stubEnv("ECR_BED_NODE_STATE", join(dir, "state"));
  J = await import("../bed/host-journal");
});
afterAll(() => {
  vi.unstubAllEnvs();
  rmSync(dir, { recursive: true, force: true });
});

describe("host journal", () => {
  it("adds the marked hosts line and removes exactly it, leaving the file as it was", () => {
    const before = "127.0.0.1 localhost\n# a comment\n10.0.0.1 other.example\n";
    writeFileSync(hosts, before);
    J.addHostsLine("127.0.0.1 123456789012.dkr.ecr.us-east-1.amazonaws.com");
    const during = readFileSync(hosts, "utf8");
    expect(during).toBe(`${before}127.0.0.1 123456789012.dkr.ecr.us-east-1.amazonaws.com ${J.HOSTS_MARKER}\n`);
    expect(J.undoChanges([{ kind: "hosts" }])).toEqual([]);
    expect(readFileSync(hosts, "utf8")).toBe(before);
    // Undoing again changes nothing.
    expect(J.undoChanges([{ kind: "hosts" }])).toEqual([]);
    expect(readFileSync(hosts, "utf8")).toBe(before);
  });

  it("a lock whose owner is dead is swept and taken over; a released lock is gone", async () => {
    const lock = join(dir, "state", "some.lock");
    mkdirSync(lock, { recursive: true });
    // A pid above the kernel's maximum (4194304) never runs.
    writeFileSync(join(lock, "pid"), "99999999");
    let swept = 0;
    const release = await J.acquireDirLock(lock, 0, undefined, () => swept++);
    expect(swept).toBe(1);
    expect(readFileSync(join(lock, "pid"), "utf8")).toBe(String(process.pid));
    release();
    expect(existsSync(lock)).toBe(false);
  });

  it("reads mount points under a prefix, deepest first, and not a sibling with the same prefix", () => {
    const all = J.mountsUnder("/");
    expect(all.length).toBeGreaterThan(0);
    expect(all.at(-1)).toBe("/");
    expect(J.mountsUnder("/pr")).toEqual([]); // /proc is not under /pr
  });
});
