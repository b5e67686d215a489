"""The entrypoint of batchemu's Lambda runtime image (scripts/build-lambda-image.sh), in the
calling convention moto's Lambda uses for its lambci/docker-lambda style images:

    docker run <image>:<runtime> <handler> <event JSON>     code in /var/task, layers in /opt

Loads `module.function` (the handler) from /var/task, calls it with the event and a context
object, and prints the result as JSON on the LAST line of standard output (moto reads the
answer there); whatever the function prints or logs goes to standard error before it, so it
becomes the function's log. An exception prints Lambda's error object and exits 1.
"""

import importlib
import json
import logging
import os
import sys
import time
import traceback
import uuid


class Context:
    """The attributes of the Python runtime's context object that a function reads."""

    def __init__(self, deadline: float):
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        region = os.environ.get("AWS_REGION", "us-east-1")
        account = os.environ.get("AWS_ACCESS_KEY_ID", "123456789012")
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{self.function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.identity = self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: bootstrap <module.function> [event JSON]", file=sys.stderr)
        return 2
    handler, event = sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    for path in ("/opt/python", "/var/task"):  # layers first, the function's own code wins
        if os.path.isdir(path):
            sys.path.insert(0, path)
    # The function's prints are its log: keep stdout for the answer alone.
    answer_out = sys.stdout
    sys.stdout = sys.stderr
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="[%(levelname)s]\t%(asctime)s\t%(message)s")
    timeout = float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3") or 3)
    context = Context(time.time() + timeout)
    print(f"START RequestId: {context.aws_request_id} Version: {context.function_version}", file=sys.stderr)
    try:
        module_name, _, function_name = handler.rpartition(".")
        function = getattr(importlib.import_module(module_name), function_name)
        result = function(event, context)
        code = 0
        answer = json.dumps(result)
    except Exception as exc:  # what Lambda reports for an unhandled exception
        traceback.print_exc(file=sys.stderr)
        answer = json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__,
                             "stackTrace": traceback.format_tb(exc.__traceback__)})
        code = 1
    print(f"END RequestId: {context.aws_request_id}", file=sys.stderr)
    sys.stderr.flush()
    answer_out.write(answer + "\n")
    answer_out.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
