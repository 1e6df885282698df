// What was asked: every invocation (schedule, alarm, manual, ECR event) classified into a
// Request, and the configured clusters a request covers. Pure.
export * from "./triggers";
export * from "./cluster-selection";
