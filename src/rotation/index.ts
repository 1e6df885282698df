// Rotation: fresh ECR tokens per region, the Secrets Manager port and writer, the payload ESO
// reads, and the rotate use case that ties them together (its steps: rotate-registry.ts,
// rotation-context.ts); aws.ts creates the SDK clients.
export * from "./aws";
export * from "./ecr";
export * from "./rotate";
export * from "./secret-payload";
export * from "./secret-writer";
export * from "./secrets-manager";
