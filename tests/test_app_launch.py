"""`python app.py` as a user (or Hugging Face Spaces) starts it: address, port, --share offline."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

from conftest import find_free_port


def _wait_for_line(process, needle: str, timeout: float = 120) -> list[str]:
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break  # the process exited
        lines.append(line.rstrip("\n"))
        if needle in line:
            return lines
    raise AssertionError(f"{needle!r} never printed; output so far:\n" + "\n".join(lines))


def test_share_without_a_connection_falls_back_to_local(repo_root):
    port = find_free_port()
    unreachable_port = find_free_port()  # nothing listens there: the share server is "offline"
    env = {
        **os.environ,
        "GRADIO_SERVER_PORT": str(port),  # Gradio's own variable, as Hugging Face Spaces sets it
        "GRADIO_SHARE_SERVER_ADDRESS": f"127.0.0.1:{unreachable_port}",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "app.py", "--share"],
        cwd=repo_root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = _wait_for_line(process, "could not create a public share link")
        message = [line for line in lines if "could not create a public share link" in line]
        assert message == [
            f"could not create a public share link: no connection to 127.0.0.1; "
            f"serving locally at http://127.0.0.1:{port}/"
        ]
        # ... and it really serves, on the port from the environment.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as response:
            assert response.status == 200
        assert process.poll() is None
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
