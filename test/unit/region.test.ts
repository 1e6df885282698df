/**
 * Region names against the AWS SDK's partition data (src/formats/region.ts).
 */
import { describe, expect, it } from "vitest";
import data from "../../src/formats/aws-partitions.json";
import { checkRegion, editDistance, nearestKnownRegion } from "../../src/formats/region";
// @ts-expect-error plain ESM script without types
import { sdkPartitions } from "../../scripts/update-aws-partitions.mjs";

describe("the partition data", () => {
  it("is the AWS SDK's own (re-run scripts/update-aws-partitions.mjs after an SDK upgrade)", () => {
    const sdk = sdkPartitions() as typeof data;
    expect(data.partitions).toEqual(sdk.partitions);
    expect(data.partitions.map((p) => p.id)).toEqual(expect.arrayContaining(["aws", "aws-cn", "aws-us-gov", "aws-iso"]));
    expect(data.partitions.find((p) => p.id === "aws")!.regions).toContain("us-east-1");
  });
});

describe("checkRegion", () => {
  it.each([
    ["us-east-1", "aws"],
    ["eu-west-1", "aws"],
    ["cn-north-1", "aws-cn"],
    ["us-gov-west-1", "aws-us-gov"],
  ])("%s is a known region of %s", (region, partition) => {
    expect(checkRegion(region)).toEqual({ ok: true, known: true, partition });
  });

  it.each([
    ["us-west-3", "aws"],
    ["eu-south-7", "aws"],
    ["mx-central-4", "aws"],
    ["cn-southwest-9", "aws-cn"],
  ])("%s is not in the data but matches its partition's pattern: accepted as a new region", (region, partition) => {
    expect(checkRegion(region)).toEqual({ ok: true, known: false, partition });
  });

  it.each([
    ["us-esat-1", "us-east-1"],
    ["eu-wset-1", "eu-west-1"],
    ["ap-southest-1", "ap-southeast-1"],
    ["us-east1", "us-east-1"],
    ["useast-1", "us-east-1"],
    ["eu_west_1", "eu-west-1"],
  ])("%s is refused with the suggestion %s", (region, suggestion) => {
    const check = checkRegion(region);
    expect(check.ok).toBe(false);
    expect(check.ok === false && check.problem).toContain(`(did you mean ${suggestion}?)`);
  });

  it("a name far from every region is refused without a guess", () => {
    expect(checkRegion("moon-base-1")).toEqual({ ok: false, problem: '"moon-base-1" is not an AWS region' });
  });

  it("edit distance counts a transposition as one edit", () => {
    expect(editDistance("esat", "east")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
    expect(nearestKnownRegion("zz-zzzzzz-9", 2)).toBeUndefined();
  });
});
