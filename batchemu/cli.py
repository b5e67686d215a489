"""The `batchemu` command: serve the API (default), or inject a fault into a running server.

    batchemu [--host H] [--port N] [--data-dir DIR] [--ephemeral] [--settle-seconds S]
             [--runner auto|docker|process|kubernetes|none] [--job-network NET] [--pull-policy P] ...
    batchemu fault reclaim-spot|lose-instance|fail-pulls|clear-pulls|list --endpoint URL ...

The data dir is locked before the store opens and the port bound before the engine starts, so
a second server can never run restart recovery against jobs a first one is still running.
Builds nothing itself: emulator.Emulator is the composition root.
"""

from __future__ import annotations

import argparse
import errno
import gc
import json
import logging
import os
import signal
import sys

from batchemu import __version__
from batchemu.config import Config


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="batchemu", description="A local AWS Batch.")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1; BATCHEMU_HOST)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8000; BATCHEMU_PORT)")
    parser.add_argument("--max-connections", type=int,
                        help="open HTTP connections served at once; more wait until one closes "
                             "(default 256; BATCHEMU_MAX_CONNECTIONS)")
    parser.add_argument("--data-dir", help="where state is kept (default ~/.local/share/batchemu; "
                                           "BATCHEMU_DATA_DIR)")
    parser.add_argument("--ephemeral", action="store_true", default=None,
                        help="keep state in memory only (BATCHEMU_EPHEMERAL=1)")
    parser.add_argument("--settle-seconds", type=float,
                        help="how long CREATING/UPDATING/DELETING last (default 0; BATCHEMU_SETTLE_SECONDS)")
    parser.add_argument("--region", dest="default_region",
                        help="region for unsigned requests (default us-east-1; BATCHEMU_DEFAULT_REGION)")
    parser.add_argument("--runner", choices=("auto", "docker", "process", "kubernetes", "none"),
                        help="how jobs run (default auto: docker when an engine answers, else "
                             "process; kubernetes: one pod per attempt in a cluster; BATCHEMU_RUNNER)")
    parser.add_argument("--kubeconfig",
                        help="--runner kubernetes: kubeconfig file (default $KUBECONFIG, ~/.kube/config, "
                             "or the in-cluster service account; BATCHEMU_KUBECONFIG)")
    parser.add_argument("--kube-context",
                        help="--runner kubernetes: kubeconfig context (default the current one; "
                             "BATCHEMU_KUBE_CONTEXT)")
    parser.add_argument("--kube-namespace",
                        help="--runner kubernetes: namespace of the job pods (default the context's, "
                             "else default; BATCHEMU_KUBE_NAMESPACE)")
    parser.add_argument("--no-kube-host-network", dest="kube_host_network", action="store_const",
                        const=False, default=None,
                        help="--runner kubernetes: give pods the cluster's pod network instead of the "
                             "node's (the default, as Batch on EKS; BATCHEMU_KUBE_HOST_NETWORK=0)")
    parser.add_argument("--job-network",
                        help="Docker network for job containers (default host; BATCHEMU_JOB_NETWORK)")
    parser.add_argument("--pull-policy", choices=("missing", "always", "never"),
                        help="when to pull job images (default missing; BATCHEMU_PULL_POLICY)")
    parser.add_argument("--task-holder-image",
                        help="image of the container holding a multi-container job's network namespace; "
                             "must have `sleep` (default busybox:latest; BATCHEMU_TASK_HOLDER_IMAGE)")
    parser.add_argument("--stop-grace-seconds", type=float,
                        help="SIGTERM-to-SIGKILL grace for terminated or timed-out jobs (default 30; "
                             "BATCHEMU_STOP_GRACE_SECONDS)")
    parser.add_argument("--advertise-url",
                        help="URL job containers use to reach this server (AWS_ENDPOINT_URL; default "
                             "derived from --job-network and the port; BATCHEMU_ADVERTISE_URL)")
    parser.add_argument("--deny-host-access", action="store_true", default=None,
                        help="refuse host volumes, devices, privileged containers and host namespaces "
                             "in job definitions and jobs (BATCHEMU_DENY_HOST_ACCESS=1)")
    parser.add_argument("--allowed-hosts",
                        help="Host names accepted besides loopback and the bound address, comma-"
                             "separated; '*.example' for subdomains, '*' for any (BATCHEMU_ALLOWED_HOSTS)")
    parser.add_argument("--allowed-origins",
                        help="origins of web pages allowed to call, comma-separated, e.g. "
                             "http://localhost:5173 (BATCHEMU_ALLOWED_ORIGINS)")
    parser.add_argument("--verify-signatures", action="store_true", default=None,
                        help="require SigV4 signatures by one of the accepted keys "
                             "(BATCHEMU_VERIFY_SIGNATURES=1)")
    parser.add_argument("--credentials",
                        help="accepted keys as KEY:SECRET, comma-separated (BATCHEMU_CREDENTIALS)")
    parser.add_argument("--credentials-file",
                        help="file of accepted keys: AWS credentials-file format or KEY:SECRET "
                             "lines (BATCHEMU_CREDENTIALS_FILE)")
    parser.add_argument("--events-all-accounts", action="store_true", default=None,
                        help="GET /batchemu/events without ?account= streams every account "
                             "(BATCHEMU_EVENTS_ALL_ACCOUNTS=1)")
    parser.add_argument("--time-scale", type=float,
                        help="divide the waits batchemu imposes (attempt timeouts, job state time "
                             "limits, settle times, the stop grace, EventBridge schedules) by N; "
                             "timestamps stay real time "
                             "(default 1; BATCHEMU_TIME_SCALE)")
    parser.add_argument("--allow-reset", action="store_true", default=None,
                        help="let POST /moto-api/reset and /batchemu/reset delete the state kept in "
                             "--data-dir (always allowed with --ephemeral; BATCHEMU_ALLOW_RESET=1)")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING (default INFO; BATCHEMU_LOG_LEVEL)")
    parser.add_argument("--version", action="version", version=f"batchemu {__version__}")
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> Config:
    return Config.from_env(**{k: v for k, v in vars(args).items() if v is not None})


FAULT_PATHS = {"reclaim-spot": ("POST", "/batchemu/faults/reclaim-spot"),
               "lose-instance": ("POST", "/batchemu/faults/lose-instance"),
               "fail-pulls": ("POST", "/batchemu/faults/fail-pulls"),
               "clear-pulls": ("POST", "/batchemu/faults/clear-pulls"),
               "list": ("GET", "/batchemu/faults")}


def parse_fault_args(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="batchemu fault",
                                     description="Inject a failure into a running batchemu (README "
                                                 "\"Failure injection\").")
    parser.add_argument("action", choices=tuple(FAULT_PATHS))
    parser.add_argument("--endpoint", default=None,
                        help="the server (default $AWS_ENDPOINT_URL, else http://127.0.0.1:8000)")
    parser.add_argument("--region", help="the region acted on (default $AWS_REGION, else us-east-1)")
    parser.add_argument("--compute-environment", dest="computeEnvironment", metavar="NAME_OR_ARN",
                        help="reclaim-spot/lose-instance: name or ARN of the compute environment")
    parser.add_argument("--job-id", dest="jobId", metavar="JOB_ID", help="reclaim-spot/lose-instance: the job whose host goes")
    parser.add_argument("--instance-id", dest="instanceId", metavar="INSTANCE_ID", help="lose-instance: the simulated instance (i-...)")
    parser.add_argument("--image", help="fail-pulls/clear-pulls: the image, e.g. myrepo/app:1.0")
    return parser.parse_args(argv)


def fault_main(argv) -> int:
    from batchemu import fault_client  # lazy for start-up time: botocore's signer

    args = parse_fault_args(argv)
    method, path = FAULT_PATHS[args.action]
    body = {k: v for k, v in vars(args).items()
            if k in ("computeEnvironment", "jobId", "instanceId", "image") and v is not None}
    endpoint = args.endpoint or os.environ.get("AWS_ENDPOINT_URL") or fault_client.DEFAULT_ENDPOINT
    try:
        answer = fault_client.call(endpoint, method, path, body if method == "POST" else None, args.region)
    except (fault_client.FaultRefused, OSError) as exc:
        print(f"batchemu fault {args.action}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2))
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["fault"]:
        return fault_main(argv[1:])
    config = config_from_args(parse_args(argv))
    logging.basicConfig(level=config.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("waitress").setLevel(logging.WARNING)  # "client disconnected" is routine
    # Lazy for start-up time: Flask, botocore and the model cost ~0.3 s, which --help and a
    # refused flag never pay.
    from batchemu.emulator import DataDirInUse, Emulator
    from batchemu.server import ListenError

    try:
        emulator = Emulator(config, lock_data_dir=True)  # the lock first, then the store
    except (DataDirInUse, ValueError, OSError) as exc:  # e.g. --verify-signatures without readable keys
        print(f"batchemu: {exc}", file=sys.stderr)
        return 1
    try:
        # Before the engine starts: relaunched jobs need the real port, and a server that
        # cannot listen must not recover jobs.
        server = emulator.listen()
    except ListenError as exc:
        in_use = getattr(exc.__cause__, "errno", None) == errno.EADDRINUSE
        hint = " (another program is using the port; choose another with --port)" if in_use else ""
        print(f"batchemu: {exc}{hint}", file=sys.stderr)
        return 1
    # What is loaded by now (botocore's models, the app) lives as long as the process. Frozen,
    # it is left out of the collector's full passes, which otherwise stop every thread for
    # 30-300 ms now and then (the p99 of SubmitJob, bench/README.md "Scale").
    gc.collect()
    gc.freeze()
    emulator.start(serve=False)
    where = "in memory (ephemeral)" if config.ephemeral else config.db_path
    print(f"batchemu {__version__} listening on {server.url} (state: {where})", flush=True)
    print(f"batchemu dashboard: {server.url}/ui/", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        # SIGTERM (SystemExit) or Ctrl-C: a clean stop. An --ephemeral server's runner removes
        # every container, volume and network of its jobs (nothing could re-attach them); a
        # data dir's leaves running containers for the next start (runners: close()).
        signal.signal(signal.SIGTERM, signal.SIG_DFL)   # a second SIGTERM ends the process now
        emulator.stop()
    return 0
