/**
 * Reading environment variables: trimmed strings, booleans, bounded integers, lists and
 * enumerations. Every problem is collected (not thrown), so all of them are reported together;
 * every name read is remembered, so the product's variables are known without a second list.
 */
import { showValue, withoutCredentials } from "../shared/redact";
import type { Env } from "./types";

/** Collects problems while reading variables, so all of them are reported together. */
export class EnvReader {
  readonly problems: string[] = [];
  /** Every variable name the configuration reads (set or not): the product's variables. */
  readonly names = new Set<string>();
  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    this.names.add(name);
    const value = this.env[name];
    if (value === undefined) return undefined;
    const trimmed = value.trim();
    return trimmed === "" ? undefined : trimmed;
  }

  string(name: string, fallback?: string): string | undefined {
    return this.raw(name) ?? fallback;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (/^(true|1|yes)$/i.test(value)) return true;
    if (/^(false|0|no)$/i.test(value)) return false;
    this.problem(`${name}=${showValue(value)}: expected true or false`);
    return fallback;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      this.problem(`${name}=${showValue(value)}: expected a whole number from ${min} to ${max}`);
      return fallback;
    }
    return Number(value);
  }

  /**
   * A comma-separated list. With `noSpaces` (lists of names), an item holding spaces is reported
   * with a hint to use commas, and split on the spaces so each part is still checked.
   */
  list(name: string, options: { noSpaces?: boolean } = {}): string[] {
    const value = this.raw(name);
    if (value === undefined) return [];
    const items = value
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item !== "");
    if (!options.noSpaces) return items;
    return items.flatMap((item) => {
      if (!/\s/.test(item)) return [item];
      const parts = item.split(/\s+/);
      this.problems.push(`${name}: ${JSON.stringify(item)} looks space-separated: separate the items with commas (${parts.join(",")})`);
      return parts;
    });
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    this.problem(`${name}=${showValue(value)}: expected one of ${allowed.join(", ")}`);
    return fallback;
  }

  /** Records a problem; a part of it that looks like a credential is replaced by its length. */
  problem(message: string): void {
    this.problems.push(withoutCredentials(message));
  }
}
