"""
A LocalStack Lambda runtime executor (plugin namespace localstack.lambda.runtime_executor, name
"node") that runs a Node.js function's handler in a local `node` process for each invocation:
LocalStack's own executor needs Docker and downloads its runtime-init binary, neither of which
the test machines have.

Environment of the LocalStack process:
  LOCALSTACK_NODE_EXECUTOR_NODE    the node binary (default: node on PATH)
  LOCALSTACK_NODE_EXECUTOR_ENV     JSON object merged over the function's environment (e.g. an
                                   AWS_ENDPOINT_URL so the function's own calls go to moto)
  LOCALSTACK_NODE_EXECUTOR_RECORD  a file: one JSON line per invocation (function, event, result,
                                   error, logs) for tests to read

The function's environment is what LocalStack computed (its reserved variables, then the
function's own Environment.Variables); the handler runs with an equivalent of the Lambda context
(awsRequestId, invokedFunctionArn, getRemainingTimeInMillis, …). Its stdout/stderr are the logs.
"""

import json
import logging
import os
import subprocess
import tempfile
import threading
from pathlib import Path

from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin
from localstack.services.lambda_.invocation.runtime_executor import RuntimeExecutor

LOG = logging.getLogger(__name__)

RUNNER = r"""
import { pathToFileURL } from "node:url";
import { writeFileSync } from "node:fs";
const [codeDir, handler, eventFile, resultFile, requestId, functionArn, timeoutSeconds] = process.argv.slice(2);
const dot = handler.lastIndexOf(".");
const file = handler.slice(0, dot);
const exported = handler.slice(dot + 1);
const deadline = Date.now() + Number(timeoutSeconds) * 1000;
const fs = await import("node:fs");
const candidates = [".mjs", ".js", ".cjs"].map((ext) => `${codeDir}/${file}${ext}`).filter((p) => fs.existsSync(p));
const write = (value) => writeFileSync(resultFile, JSON.stringify(value));
try {
  if (candidates.length === 0) throw Object.assign(new Error(`Cannot find module '${file}'`), { name: "Runtime.ImportModuleError" });
  const module = await import(pathToFileURL(candidates[0]).href);
  const fn = module[exported] ?? module.default?.[exported];
  if (typeof fn !== "function") throw Object.assign(new Error(`${handler} is undefined or not exported`), { name: "Runtime.HandlerNotFound" });
  const event = JSON.parse(fs.readFileSync(eventFile, "utf8"));
  const context = {
    awsRequestId: requestId,
    invokedFunctionArn: functionArn,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  const result = await fn(event, context);
  write({ ok: true, result: result === undefined ? null : result });
} catch (error) {
  write({ ok: false, error: { errorType: error?.name ?? "Error", errorMessage: String(error?.message ?? error) } });
}
process.exit(0);
"""

_record_lock = threading.Lock()


class NodeRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self.env: dict[str, str] = {}
        self.logs = ""

    def start(self, env_vars: dict[str, str]) -> None:
        self.env = {k: str(v) for k, v in env_vars.items() if v is not None}
        overrides = os.environ.get("LOCALSTACK_NODE_EXECUTOR_ENV")
        if overrides:
            self.env.update({k: str(v) for k, v in json.loads(overrides).items()})

    def stop(self) -> None:
        pass

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return "127.0.0.1"

    def get_runtime_endpoint(self) -> str:
        return ""

    def get_logs(self) -> str:
        return self.logs

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload["invoke-id"]
        code_dir = str(self.function_version.config.code.get_unzipped_code_location())
        handler = self.function_version.config.handler
        timeout = self.function_version.config.timeout
        node = os.environ.get("LOCALSTACK_NODE_EXECUTOR_NODE", "node")
        with tempfile.TemporaryDirectory(prefix="ls-node-") as work:
            runner = Path(work, "runner.mjs")
            runner.write_text(RUNNER)
            event_file = Path(work, "event.json")
            event_file.write_text(payload.get("payload") or "null")
            result_file = Path(work, "result.json")
            env = {"PATH": os.environ.get("PATH", ""), "HOME": work, **self.env}
            env["LAMBDA_TASK_ROOT"] = code_dir
            try:
                done = subprocess.run(
                    [node, str(runner), code_dir, handler, str(event_file), str(result_file), request_id, payload.get("invoked-function-arn", ""), str(timeout)],
                    cwd=code_dir,
                    env=env,
                    capture_output=True,
                    timeout=timeout + 5,
                )
                self.logs = done.stdout.decode("utf-8", "replace") + done.stderr.decode("utf-8", "replace")
                outcome = json.loads(result_file.read_text()) if result_file.exists() else {
                    "ok": False,
                    "error": {"errorType": "Runtime.ExitError", "errorMessage": f"node exited with {done.returncode}"},
                }
            except subprocess.TimeoutExpired as e:
                self.logs = (e.stdout or b"").decode("utf-8", "replace") + (e.stderr or b"").decode("utf-8", "replace")
                outcome = {"ok": False, "error": {"errorType": "Sandbox.Timedout", "errorMessage": f"Task timed out after {timeout} seconds"}}
        self._record(payload, outcome)
        body = outcome["result"] if outcome["ok"] else outcome["error"]
        return InvocationResult(request_id, json.dumps(body).encode("utf-8"), is_error=not outcome["ok"], logs=self.logs)

    def _record(self, payload: dict[str, str], outcome: dict) -> None:
        path = os.environ.get("LOCALSTACK_NODE_EXECUTOR_RECORD")
        if not path:
            return
        try:
            event = json.loads(payload.get("payload") or "null")
        except ValueError:
            event = payload.get("payload")
        line = json.dumps({"function": self.function_version.id.function_name, "requestId": payload["invoke-id"], "event": event, **outcome, "logs": self.logs})
        with _record_lock, open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass

    @classmethod
    def validate_environment(cls) -> bool:
        return True


class NodeRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "node"

    def load(self, *args, **kwargs):
        return NodeRuntimeExecutor
