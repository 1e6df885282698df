// Pure formats: the docker config JSON of pull Secrets, ECR registry host names, ECR
// authorization tokens (decoding and expiry), Kubernetes label selectors, and AWS region names
// (the SDK's partition data). No I/O.
export * from "./dockerconfig";
export * from "./ecr-token";
export * from "./label-selector";
export * from "./registry-host";
export * from "./region";
