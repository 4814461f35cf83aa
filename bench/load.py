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

    python -m bench.load --webcam-browsers 1 4 [--seconds 4]

The Webcam tab's in-browser mode instead (ui/browser_webcam.js): for each count, that many
Chromium tabs (Debian's /usr/bin/chromium, its fake camera playing the first 2 s of
../shared/data/videos/fox.mp4) paint the camera in the page at once, and the app's process is
charged for its CPU time (Linux /proc) over --seconds while they paint, less the same time with
the same tabs open and stopped. Prints per row: fps per tab and in all, the server's CPU time
painting and idle, and its CPU time per painted frame. Goal: under 2 ms a painted frame (the
server path works 70-106 ms on each: docs/webcam.md), i.e. the server does no work per frame.
Then one line: the seconds the page's runtime fetch (ui/browser_runtime.ensure) takes to give
up on an npm registry that refuses connections (goal: under 10 s, so the page falls back to the
server at once).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

from bench.browser import CHROMIUM, CHROMIUM_ARGS, fake_camera_args
from bench.report import markdown_table

REPO = Path(__file__).resolve().parent.parent
PHOTO = REPO / "examples" / "photos" / "skimage_astronaut.jpg"
CAMERA_CLIP = REPO.parent / "shared" / "data" / "videos" / "fox.mp4"
WEBCAM_GOAL_MS = 2.0  # server CPU per frame painted in a browser
REGISTRY_GOAL_S = 10.0  # giving up on an unreachable npm registry


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


# ---------------------------------------------------------------- the webcam in the browser


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_camera(path: Path, frames: int = 60, size: tuple[int, int] = (640, 480)) -> None:
    """The clip's first frames, centre-cropped and scaled, as a YUV4MPEG2 file Chromium's fake
    camera plays (in a loop)."""
    import av
    import cv2

    width, height = size
    with av.open(str(CAMERA_CLIP)) as container, open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        for _, frame in zip(range(frames), container.decode(video=0)):
            crop_h = min(frame.height, frame.width * height // width)
            crop_w = crop_h * width // height
            top, left = (frame.height - crop_h) // 2, (frame.width - crop_w) // 2
            rgb = frame.to_ndarray(format="rgb24")[top : top + crop_h, left : left + crop_w]
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            out.write(b"FRAME\n" + cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes())


def frames_painted(page) -> int:
    return page.evaluate("Number(document.querySelector('#browser-webcam-output').dataset.frames || 0)")


def webcam_row(browser, url: str, server: subprocess.Popen, tabs: int, seconds: float) -> list[str]:
    contexts = [browser.new_context(viewport={"width": 1000, "height": 800}) for _ in range(tabs)]
    try:
        pages = []
        for context in contexts:
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.goto(url)
            page.get_by_role("tab", name="Webcam").click()
            page.locator("#browser-start").wait_for()
            page.click("#browser-start")
            pages.append(page)
        for page in pages:  # the first frames wait for the runtime (14 MB) and the network to load
            page.wait_for_function(
                "n => Number(document.querySelector('#browser-webcam-output').dataset.frames || 0) >= n",
                arg=frames_painted(page) + 2,
                timeout=180_000,
            )
        before = [frames_painted(page) for page in pages]
        cpu, started = cpu_seconds(server.pid), time.monotonic()
        time.sleep(seconds)
        cpu, elapsed = cpu_seconds(server.pid) - cpu, time.monotonic() - started
        painted = [frames_painted(page) - b for page, b in zip(pages, before)]
        for page in pages:
            page.evaluate("window.stBrowserWebcam.stop()")
        idle = cpu_seconds(server.pid)
        time.sleep(seconds)
        idle = (cpu_seconds(server.pid) - idle) * elapsed / seconds  # the same tabs open, nothing painted
        per_frame_ms = 1000 * max(0.0, cpu - idle) / max(1, sum(painted))
        return [
            str(tabs),
            " ".join(f"{n / elapsed:.1f}" for n in painted),
            f"{sum(painted) / elapsed:.1f}",
            f"{cpu * 1000:.0f}",
            f"{idle * 1000:.0f}",
            f"{per_frame_ms:.2f}" + ("" if per_frame_ms < WEBCAM_GOAL_MS else " (over the goal)"),
        ]
    finally:
        for context in contexts:
            context.close()


@contextlib.contextmanager
def environment(**values: str):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def unreachable_registry() -> tuple[float, str]:
    """Seconds until the runtime fetch gives up on a registry that refuses connections (the
    discard port, into an empty cache), and the message the page shows."""
    from styletransfer.errors import StyleTransferError
    from ui import browser_runtime

    with (
        tempfile.TemporaryDirectory() as cache,
        environment(STYLETRANSFER_CACHE=cache, npm_config_registry="http://127.0.0.1:9"),
    ):
        started = time.perf_counter()
        try:
            browser_runtime.ensure()
            message = "fetched?! (something listens on 127.0.0.1:9)"
        except StyleTransferError as error:
            message = str(error)
        return time.perf_counter() - started, message


def webcam(args) -> None:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: run `bash tests/run.sh`, which installs Debian's chromium")
    rows = []
    server, url = start_server(1)
    try:
        with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
            camera = Path(tmp) / "fox.y4m"
            write_camera(camera)
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *fake_camera_args(camera)]
            )
            try:
                for tabs in args.webcam_browsers:
                    rows.append(webcam_row(browser, url, server, tabs, args.seconds))
                    print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
            finally:
                browser.close()
    finally:
        server.terminate()
        server.wait(30)
    seconds, message = unreachable_registry()
    print(
        f"\nWebcam in the browser (WebAssembly), 640x480 camera, the default style, {args.seconds:.0f} s per row, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; goal: server CPU under "
        f"{WEBCAM_GOAL_MS:.0f} ms a painted frame"
    )
    print(
        markdown_table(
            ["tabs", "fps each", "fps in all", "server CPU ms painting", "server CPU ms idle", "server CPU ms a frame"],
            rows,
        )
    )
    verdict = "within" if seconds < REGISTRY_GOAL_S else "OVER"
    print(
        f"\nonnxruntime-web from an unreachable registry: gave up in {seconds:.2f} s ({verdict} the goal of "
        f"{REGISTRY_GOAL_S:.0f} s): {message}"
    )


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
    parser.add_argument(
        "--webcam-browsers",
        type=int,
        nargs="+",
        metavar="TABS",
        help="measure the Webcam tab's in-browser mode with this many tabs at once instead of /stylize",
    )
    parser.add_argument("--seconds", type=float, default=4.0, help="per webcam row: painting, then idle")
    args = parser.parse_args(argv)
    if args.webcam_browsers:
        webcam(args)
        return

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
