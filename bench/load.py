"""The app under load: N gradio_client clients x M /stylize requests each, on loopback.

    python -m bench.load [--clients 1 4 16] [--requests 3] [--arch full] [--size 512]
                         [--concurrency 1 2] [--timeout 300]

For each instant concurrency limit (the app's STYLETRANSFER_INSTANT_CONCURRENCY), the real app
(python app.py) is started in a process of its own; then for each client count, that many
threads, each with its own gradio_client.Client (its own session, as separate visitors
have), send their requests one after another, all clients at once. Prints per row: latency
p50/p95/max (seconds from the call to the image on the client's disk), throughput, failures
(and the first error), and the server's peak resident memory (VmHWM) after the row.
Everything is bounded: --timeout seconds per row, after which unfinished requests count as
failures.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

from bench.report import markdown_table

REPO = Path(__file__).resolve().parent.parent
PHOTO = REPO / "examples" / "photos" / "skimage_astronaut.jpg"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(concurrency: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "STYLETRANSFER_INSTANT_CONCURRENCY": str(concurrency)}
    server = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the app exited: {server.stderr.read()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, url
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("the app did not start within 120 s")


def peak_memory_mb(pid: int) -> float:
    """The process's peak resident memory so far (Linux /proc), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_client(url: str, requests: int, args, deadline: float) -> list[tuple[float | None, str]]:
    """(seconds, "") per request answered, (None, error) per failure; stops at the deadline."""
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    results = []
    for _ in range(requests):
        if time.monotonic() > deadline:
            results.append((None, "row timed out"))
            continue
        started = time.perf_counter()
        try:
            client.predict(handle_file(str(PHOTO)), args.style, args.arch, 1.0, False, args.size, api_name="/stylize")
            results.append((time.perf_counter() - started, ""))
        except Exception as error:  # counted, the first one is shown
            results.append((None, f"{type(error).__name__}: {str(error)[:80]}"))
    return results


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def row(url: str, server: subprocess.Popen, concurrency: int, clients: int, args) -> list[str]:
    deadline = time.monotonic() + args.timeout
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(one_client, url, args.requests, args, deadline) for _ in range(clients)]
        wait(futures, timeout=args.timeout + 60)
    elapsed = time.perf_counter() - started
    results = [r for f in futures if f.done() and not f.exception() for r in f.result()]
    seconds = [s for s, _ in results if s is not None]
    errors = [e for s, e in results if s is None]
    failures = clients * args.requests - len(seconds)
    if failures and not errors:
        errors = ["client thread did not finish"]
    stats = (
        [f"{statistics.median(seconds):.2f}", f"{percentile(seconds, 0.95):.2f}", f"{max(seconds):.2f}"]
        if seconds
        else ["-", "-", "-"]
    )
    return [
        str(concurrency),
        str(clients),
        str(clients * args.requests),
        *stats,
        f"{len(seconds) / elapsed:.2f}",
        f"{failures}" + (f" ({errors[0]})" if errors else ""),
        f"{peak_memory_mb(server.pid):.0f}",
    ]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=3, help="per client, one after another")
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[1, 2],
        help="instant passes the server runs at once (STYLETRANSFER_INSTANT_CONCURRENCY)",
    )
    parser.add_argument("--style", default="starry_night")
    parser.add_argument("--arch", default="full", choices=["full", "lite"])
    parser.add_argument("--size", type=int, default=512, help="output long side, px")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per row at most")
    args = parser.parse_args(argv)

    rows = []
    for concurrency in args.concurrency:
        server, url = start_server(concurrency)
        try:
            one_client(url, 1, args, time.monotonic() + 120)  # warm-up: the network loads once
            for clients in args.clients:
                rows.append(row(url, server, concurrency, clients, args))
                print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
        finally:
            server.terminate()
            server.wait(30)
    print(
        f"\n/stylize, {args.style} {args.arch}, {PHOTO.name} at {args.size} px, {args.requests} requests per client, "
        f"{os.cpu_count()} CPUs"
    )
    print(
        markdown_table(
            ["instant slots", "clients", "requests", "p50 s", "p95 s", "max s", "req/s", "failures", "server peak MB"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
