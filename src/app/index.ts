// Composition root: configuration and real AWS clients wired into RunDeps, for the Lambda
// handler and the CLI. The Kubernetes step is a dynamic import.
export * from "./app";
