// Pure formats: the docker config JSON of pull Secrets, ECR registry host names, ECR
// authorization tokens (decoding and expiry), Kubernetes label selectors, and AWS region names
// (the SDK's partition data), the doctor's probe image reference, the Secrets Manager value. No I/O.
export * from "./dockerconfig";
export * from "./ecr-token";
export * from "./image-reference";
export * from "./label-selector";
export * from "./registry-host";
export * from "./secret-value";
export * from "./region";
