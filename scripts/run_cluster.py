"""`make run-cluster`: N API processes and M workers of each kind on one PostgreSQL, this machine.

    BUILDSTATE_DATABASE_URL=postgres://postgres@127.0.0.1:5432/buildstate \
        python scripts/run_cluster.py --api 2 --workers 1 --port 8080

API process i listens on 127.0.0.1:(port + i) (put any HTTP load balancer in front); each
worker kind (orchestrator, webhook sender) runs M processes. SIGTERM or Ctrl-C is passed to
every process: the API processes finish their in-flight requests, the workers their current
iteration, then everything exits. See README, "Running several processes".
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKERS = ("app.workers.orchestrator", "app.workers.webhook_sender")


def start_cluster(
    *, api: int, workers: int, port: int, host: str = "127.0.0.1", env: dict[str, str] | None = None,
    quiet: bool = False, log_dir: Path | None = None,
) -> list[subprocess.Popen]:
    """Start the processes (after migrating); the caller stops them with `stop_cluster`."""
    env = {**os.environ, **(env or {})}
    url = env.get("BUILDSTATE_DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit(
            "run-cluster needs BUILDSTATE_DATABASE_URL=postgres://…: several processes must not "
            "share one SQLite file"
        )
    subprocess.run([sys.executable, "-m", "app.manage", "prepare"], env=env, cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL if quiet else None)
    # The API processes leave the background work to the worker processes.
    api_env = {**env, "BUILDSTATE_ORCHESTRATOR": "off"}
    def out(name: str):
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            return open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        return subprocess.DEVNULL if quiet else None

    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:app", "--host", host,
             "--port", str(port + i), "--proxy-headers", "--log-level", "warning"],
            env=api_env, cwd=ROOT, stdout=(o := out(f"api-{port + i}")), stderr=o,
        )
        for i in range(api)
    ]
    for module in WORKERS:
        for n in range(workers):
            o = out(f"{module.rsplit('.', 1)[-1]}-{n}")
            procs.append(subprocess.Popen([sys.executable, "-m", module], env=env, cwd=ROOT,
                                          stdout=o, stderr=o))
    return procs


def stop_cluster(procs: list[subprocess.Popen], timeout: float = 30.0) -> list[int]:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    codes = []
    for proc in procs:
        try:
            codes.append(proc.wait(max(0.1, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            proc.kill()
            codes.append(proc.wait())
    return codes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", type=int, default=int(os.environ.get("API", 2)))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", 1)))
    parser.add_argument("--port", type=int, default=int(os.environ.get("BUILDSTATE_PORT", 8080)))
    parser.add_argument("--host", default=os.environ.get("BUILDSTATE_HOST", "127.0.0.1"))
    args = parser.parse_args()
    procs = start_cluster(api=args.api, workers=args.workers, port=args.port, host=args.host)
    print(f"API on {', '.join(f'{args.host}:{args.port + i}' for i in range(args.api))}; "
          f"{args.workers} orchestrator and {args.workers} webhook sender process(es). "
          "Ctrl-C or SIGTERM stops them gracefully.", flush=True)
    stopping = False

    def forward(signum, frame):  # noqa: ARG001
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while not stopping and all(p.poll() is None for p in procs):
        time.sleep(0.5)
    if not stopping:
        print("a process exited; stopping the others", file=sys.stderr)
    codes = stop_cluster(procs)
    # 0, or the signal that stopped it gracefully (uvicorn re-raises SIGTERM once drained).
    return 0 if all(c in (0, -signal.SIGTERM) for c in codes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
