"""The web app: a Gradio face over the styletransfer engine. UI only; no tensor maths here.

    python app.py [--host 127.0.0.1] [--port 7860] [--share]

The Image tab paints a photo with a pretrained network from the model zoo (pretrained/, or
$STYLETRANSFER_PRETRAINED), in one pass, or with any painting: a fast result (lite with rows
predicted from the painting, or the universal mode), then Refine (Gatys optimisation) from there. The Video tab stylizes an uploaded clip with
a zoo network (sound kept); the Webcam tab repaints the camera live, in the visitor's browser
or on the server.

Other programs (gradio_client) get four endpoints, a contract defined in ui/api.py apart from
the page (the page's own events are private):

    /stylize  photo + zoo style      -> the painted photo (PNG)
    /paint    photo + any paintings  -> the fast result (PNG): predicted network or universal mode
    /gatys    photo + any paintings  -> Gatys optimisation, streamed as (preview, progress line)
    /video    clip + zoo style       -> the painted .mp4, its sound kept

This file only puts the app together and serves it. Each tab lives in its own module in ui/
(ui/image_tab.py, ui/video_tab.py, ui/webcam_tab.py, what they share in ui/common.py), built by
its own function (build_image_tab, ...).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import socket
import threading

import gradio as gr
from starlette.middleware import Middleware

from ui.api import build_api
from ui.common import EXAMPLES_DIR, MAX_FILE_SIZE, PAGE_CSS, PAGE_JS, QUEUE_MAX_SIZE
from ui.image_tab import build_image_tab
from ui.learn import build_learn_api, build_learn_tab, learn_served_paths
from ui.video_tab import build_video_tab
from ui.webcam_tab import BROWSER_WEBCAM_HEAD, CrossOriginIsolation, build_webcam_tab
from ui.webcam_tab import served_paths as webcam_served_paths


def build_app(models_folder=None) -> gr.Blocks:
    """The whole app. models_folder: the pretrained networks (default zoo.PRETRAINED)."""
    # Delete streamed previews older than an hour, checking every 30 minutes: each step
    # writes one PNG to Gradio's cache.
    with gr.Blocks(title="Style transfer", delete_cache=(1800, 3600)) as app:
        gr.Markdown("# Style transfer\nRepaint a photo in the style of one or more paintings.")
        with gr.Tabs():
            build_image_tab(models_folder)
            build_video_tab(models_folder)
            build_webcam_tab(models_folder)
            build_learn_tab(models_folder)  # after the tabs whose galleries it keeps up to date (ui/learn.py)
        build_api(models_folder)  # /stylize, /paint, /gatys, /video for gradio_client (ui/api.py)
        build_learn_api(models_folder)  # /learn, /learn_status
    # One long job at a time: a Gatys run or a video (their shared HEAVY_JOBS slot) already
    # uses every CPU core. Instant passes and the webcam have slots of their own
    # (ui/image_tab.py's _wire_instant, ui/webcam_tab.py's build_webcam_tab).
    app.queue(default_concurrency_limit=1, max_size=QUEUE_MAX_SIZE)
    return app


def launch_options() -> dict:
    """launch() arguments every way of serving the app shares (main() and the tests)."""
    return {
        "max_file_size": MAX_FILE_SIZE,
        # Example paintings are handed back as outputs (added to the painting list); Gradio
        # only serves files it created or allowed folders, whatever the working directory.
        # The in-browser webcam loads onnxruntime-web and the exported networks from the app.
        "allowed_paths": [str(EXAMPLES_DIR), *webcam_served_paths(), *learn_served_paths()],
        "head": BROWSER_WEBCAM_HEAD,
        "app_kwargs": {"middleware": [Middleware(CrossOriginIsolation)]},  # threads for the in-browser webcam
        "js": PAGE_JS,
        "css": PAGE_CSS,
    }


def _share_server_reachable(timeout: float = 5.0) -> str | None:
    """None if Gradio's share service answers a TCP connect, else the host we could not reach.

    Checked in a thread because a DNS lookup cannot be given a timeout directly.
    """
    address = os.environ.get("GRADIO_SHARE_SERVER_ADDRESS")
    if address:
        host, _, port = address.rpartition(":")
    else:
        host, port = "api.gradio.app", "443"  # networking.GRADIO_API_SERVER's host
    outcome: list[bool] = []

    def connect():
        try:
            socket.create_connection((host, int(port)), timeout=timeout).close()
            outcome.append(True)
        except OSError:
            outcome.append(False)

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout)
    return None if outcome == [True] else host


def main(argv: list[str] | None = None) -> None:
    # Gradio's own variables win over our defaults (Hugging Face Spaces sets 0.0.0.0:7860).
    parser = argparse.ArgumentParser(description="Style-transfer web app.")
    parser.add_argument(
        "--host",
        default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        help="address to listen on (default 127.0.0.1, or $GRADIO_SERVER_NAME)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        help="port (default 7860, or $GRADIO_SERVER_PORT)",
    )
    parser.add_argument("--share", action="store_true", help="also create a temporary public gradio.live link")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    # Gradio would wait up to 30 s for its share service and then print a long hint; check
    # first, and fall back to serving locally with one clear line.
    unreachable = _share_server_reachable() if args.share else None
    app = build_app()
    app.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share and not unreachable,
        prevent_thread_lock=True,
        quiet=True,
        **launch_options(),
    )
    if args.share and not app.share_url:
        reason = f"no connection to {unreachable}" if unreachable else "the tunnel failed (see above)"
        print(f"could not create a public share link: {reason}; serving locally at {app.local_url}", flush=True)
    else:
        print(f"serving at {app.local_url}" + (f" and {app.share_url}" if app.share_url else ""), flush=True)
    print("press Ctrl+C to stop", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        app.block_thread()


if __name__ == "__main__":
    main()
