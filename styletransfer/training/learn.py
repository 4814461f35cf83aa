"""Learning a painting: one job adds it to the shipped several-style networks as a new style.

For each arch (LEARN_ARCHS) the painting gets one more scale-and-shift row in that arch's
network of the model folder (default pretrained/), fitted alone while the convolutions stay
(training's ``add_to``; docs/models.md, "Adding a painting to a trained model"). A job runs as
a process of its own, ``python -m styletransfer.training.learn JOB_FOLDER`` (learner.py starts
one at a time, niced), and says what it does in its folder: status.json (state, step, ETA,
error; JobStatus) and preview.jpg, the network so far on a photo, every ``preview_every`` steps.

What is stored: each arch's result as a one-style model, the grown network's new row with its
convolutions, in the zoo's own format (NAME.ARCH.safetensors + NAME.ARCH.json, the painting's
thumbnail NAME.jpg beside them) in the learned folder, so any zoo lookup runs it
(``load_network(name, arch, folder=learned_folder())``, the webcam's ONNX export included).
Storing only the new rows (a few KB instead of 3.3 MB for full, 0.2 MB for lite) would need
the zoo's loader to compose them with the shipped file, and they would silently stop matching
when the shipped networks are republished with new convolutions (as at step 16,600): a
one-style file keeps working whatever happens to pretrained/.

Where ($STYLETRANSFER_HOME, else $XDG_DATA_HOME/styletransfer, else ~/.local/share/styletransfer):

    learned/   the learned styles: a zoo folder (and NAME.painting.EXT, the painting as given)
    jobs/ID/   job.json (the request, written once), status.json, painting.EXT, preview.jpg,
               log.txt (the process's output), ARCH/ (its training runs, removed once published)
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import sys
import time
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path

from styletransfer import predicted
from styletransfer.errors import StyleTransferError, short_error
from styletransfer.files import atomic_write
from styletransfer.io import images
from styletransfer.networks import Network, read_model, zoo
from styletransfer.networks.transformer import ARCHS
from styletransfer.perceptual.vgg import random_vgg16
from styletransfer.training.adding import base_settings, style_entry
from styletransfer.training.checkpoint import CHECKPOINT
from styletransfer.training.config import TrainConfig
from styletransfer.training.data import list_images
from styletransfer.training.loop import train

# Steps per network: the fewest that reach the zoo's own quality. The Scream learned anew into
# the shipped lite (a new row; 2026-12-07, 4 held-out photos at 384 px) reached style ratio
# 0.314 / 0.286 / 0.244 / 0.220 / 0.210 / 0.202 at 50 / 100 / 200 / 300 / 400 / 600 steps,
# against 0.207 for the zoo's row trained with the others for 6,000 steps and 0.422 for the
# any-painting mode; The Night Café added to full, 0.277 / 0.227 / 0.210 at 100 / 300 / 600
# (docs/models.md). 300 steps a network took a whole job 7.8 min on the 2-core CPU; 400 adds
# about a third.
LEARN_STEPS = 400
# lite's steps when its row starts from the predicted network (_predicted_start), not from the
# mean row. The Scream, as above, from the predictor before its steady pull: 0.295 / 0.266 /
# 0.244 / 0.218 / 0.211 / 0.207 / 0.203 at 0 / 50 / 100 / 200 / 250 / 300 / 400 steps (250
# within 2% of the zoo's row, 0.207). From the shipped, steadier predictor: 0.227 / 0.220 /
# 0.210 at 250 / 300 / 400, the mean start's 0.210 at 400, so no steps are saved any more;
# the start still puts the painting in every tab within seconds.
STEPS_FROM_PREDICTION = 400
# lite first: the webcam's network and the Video tab's default, usable after the shorter part
# of the job; then full, the Image tab's default. A style shows in the galleries with its first.
LEARN_ARCHS = ("lite", "full")
PREVIEW_EVERY = 25  # steps between previews (each is a checkpoint, read back to paint the photo)
PREVIEW_SIZE = 256  # the preview's long side, px
THUMBNAIL_SIZE = 256  # the gallery picture's long side, as pretrained/'s
# Seconds a step on the 2-core CPU (docs/models.md): the ETA of a network not yet timed, scaled
# by how fast the one running goes.
SECONDS_PER_STEP = {"full": 1.65, "lite": 1.3}
NICENESS = 10  # the job's process yields the CPU to the app's own requests
ENV_HOME = "STYLETRANSFER_HOME"
ENV_CONFIG = "STYLETRANSFER_LEARN_CONFIG"  # JSON of LearnConfig fields over the defaults
STATES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")
JOB_FILE, STATUS_FILE, PREVIEW_FILE = "job.json", "status.json", "preview.jpg"


@dataclass(frozen=True)
class LearnConfig:
    """How a job learns a painting: every setting in one place ($STYLETRANSFER_LEARN_CONFIG
    overrides them for an app: from_env), saved in each job's job.json."""

    steps: int = LEARN_STEPS  # per network
    steps_from_prediction: int = STEPS_FROM_PREDICTION  # lite's, started from the predicted network (at most steps)
    archs: tuple[str, ...] = LEARN_ARCHS
    preview_every: int = PREVIEW_EVERY
    preview_size: int = PREVIEW_SIZE
    models: str = ""  # the folder of the networks the painting joins; "" = zoo.PRETRAINED
    photos: str = ""  # training photos; "" = the base network's own (its card), where this machine has them
    fallback_photos: str = ""  # else these (the app: its example photos)
    preview_photo: str = ""  # the photo the previews paint; "" = the first training photo
    # TrainConfig settings over those inherited from the base network (tests: tiny crops).
    train: dict = field(default_factory=dict)
    lossnet: str = "pretrained"  # "random": an untrained VGG16 (tests: no weights, no download)

    def __post_init__(self):
        object.__setattr__(self, "archs", tuple(self.archs))
        for steps in (self.steps, self.steps_from_prediction):
            if not isinstance(steps, int) or steps < 1:
                raise StyleTransferError(f"learning needs steps >= 1, got {steps!r}")
        if not self.archs or any(arch not in ARCHS for arch in self.archs):
            raise StyleTransferError(f"learning's archs must be some of {', '.join(ARCHS)}, got {self.archs!r}")
        if self.preview_every < 1 or self.preview_size < 16:
            raise StyleTransferError("learning needs preview_every >= 1 and preview_size >= 16")
        if self.lossnet not in ("pretrained", "random"):
            raise StyleTransferError(f"lossnet must be pretrained or random, got {self.lossnet!r}")

    def steps_for(self, arch: str, predicted_start: bool) -> int:
        """A network's steps: fewer for lite when its row starts from the predicted network."""
        return min(self.steps, self.steps_from_prediction) if arch == "lite" and predicted_start else self.steps

    @classmethod
    def from_env(cls, **defaults) -> LearnConfig:
        """``defaults`` (the app's: its photos), then $STYLETRANSFER_LEARN_CONFIG's fields over them."""
        text = os.environ.get(ENV_CONFIG, "").strip()
        try:
            given = json.loads(text) if text else {}
            if not isinstance(given, dict):
                raise ValueError("not a JSON object")
            return cls(**{**defaults, **given})
        except (ValueError, TypeError) as error:
            raise StyleTransferError(
                f"${ENV_CONFIG} is not a set of learning settings ({short_error(error)})"
            ) from None


@dataclass
class JobStatus:
    """Where a job stands (status.json): what the page's progress line and /learn_status show."""

    id: str
    name: str  # the style's name, as the galleries and the API know it
    title: str
    state: str = "queued"  # STATES
    arch: str = ""  # the network being trained
    step: int = 0  # steps done, over every network of the job
    total: int = 0
    eta_s: float | None = None  # seconds left, once running
    archs_done: list = field(default_factory=list)  # published: usable now
    preview: str = ""  # the latest preview's file
    preview_step: int = 0  # its step, over every network
    error: str = ""  # one line, when failed
    # A first lite network, predicted from the painting in seconds (predicted.py), is in the
    # learned folder while lite trains from it (``_predicted_start``).
    predicted: bool = False
    ahead: int = 0  # jobs before this one in the queue (queued only)
    created: float = 0.0
    finished: float = 0.0

    @classmethod
    def read(cls, folder: Path) -> JobStatus:
        data = json.loads((Path(folder) / STATUS_FILE).read_text())
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def write(self, folder: Path) -> None:
        text = json.dumps(asdict(self), indent=1) + "\n"
        atomic_write(Path(folder) / STATUS_FILE, lambda tmp: tmp.write_text(text))


# ------------------------------------------------------------------------- folders and names


def home() -> Path:
    """The user's folder for what the app learns: $STYLETRANSFER_HOME, else the XDG data folder."""
    if os.environ.get(ENV_HOME):
        return Path(os.environ[ENV_HOME]).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data).expanduser() / "styletransfer"


def learned_folder(root: Path | None = None) -> Path:
    """The learned styles, a zoo folder (zoo.available(learned_folder()) lists them)."""
    return (Path(root) if root is not None else home()) / "learned"


def jobs_folder(root: Path | None = None) -> Path:
    return (Path(root) if root is not None else home()) / "jobs"


def style_name(text: str) -> str:
    """A style name from a title or file name: lower-case letters, digits and _ ("Night Café" -> "night_cafe")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")[:40].strip("_") or "painting"


def unique_name(wanted: str, taken) -> str:
    """``wanted``, or ``wanted_2``, ``wanted_3``... : the first not in ``taken``."""
    name, n = wanted, 1
    while name in taken:
        n += 1
        name = f"{wanted}_{n}"
    return name


def taken_names(models, learned: Path) -> set[str]:
    """The style names of the shipped networks and of those learned so far."""
    names = set()
    for folder in (models, learned):
        if folder is None or Path(folder).is_dir():
            names |= {card.name for card in zoo.available(folder)}
    return names


def base_model(folder, arch: str) -> Path:
    """The ``arch`` network of ``folder`` a painting joins: the several-style file with the
    most styles (the zoo), else a one-style model."""
    rows: dict[Path, int] = {}
    for card in zoo.available(folder):
        place = zoo.find(card.name, arch, folder) if card.arch == arch else None
        if place is not None:
            rows[place[0]] = rows.get(place[0], 0) + 1
    if not rows:
        where = folder or zoo.PRETRAINED
        raise StyleTransferError(f"no {arch} network in {where} to add the painting to")
    return max(rows, key=lambda weights: (rows[weights], weights.name))


def unpublish(name: str, learned: Path) -> None:
    """Remove a learned style's files (a cancelled job's networks published so far)."""
    for path in Path(learned).glob(f"{name}.*"):  # names hold no dots: NAME.ARCH.*, NAME.jpg, NAME.painting.*
        path.unlink(missing_ok=True)


# ------------------------------------------------------------------------- the job


def run_job(folder: Path) -> JobStatus:
    """The job in ``folder`` (learner.Learner made it), from where it stands to the end: each
    network trained, previewed and published, status.json kept up to date. A job interrupted
    before (the app stopped) goes on from its runs' checkpoints."""
    folder = Path(folder)
    request = json.loads((folder / JOB_FILE).read_text())
    config = LearnConfig(**request["config"])
    painting = folder / request["painting"]
    learned = Path(request["learned"])
    status = JobStatus.read(folder)
    status.state, status.error = "running", ""
    status.write(folder)
    models = Path(config.models) if config.models else zoo.PRETRAINED
    start = _predicted_start(config, models, request, painting, learned, folder, status)
    steps = [config.steps_for(arch, start is not None) for arch in config.archs]
    status.total = sum(steps)
    status.write(folder)
    for index, arch in enumerate(config.archs):
        before = sum(steps[:index])
        status.arch = arch
        if arch in status.archs_done:
            continue
        weights = base_model(models, arch)
        base = zoo.ModelCard.from_json(weights.with_suffix(".json"))
        settings = base_settings(base, relative_to=models.parent)
        settings = {**settings, **_photos(config, settings), **config.train}
        train_config = TrainConfig(
            **{
                **settings,
                "style": str(painting),
                "add_to": str(weights),
                "steps": steps[index],
                "log_every": 1,
                "checkpoint_every": config.preview_every,
                **({"init": str(start)} if arch == "lite" and start is not None else {}),
            }
        )
        run = folder / arch
        photo = _preview_photo(config, train_config)
        last: dict = {}

        def progress(event, before=before, run=run, photo=photo, last=last, arch=arch, index=index):
            last.update(event.losses)
            status.step = before + event.step
            status.eta_s = _eta(config.archs, steps, index, event.step, event.elapsed / max(1, event.step))
            ckpt = run / CHECKPOINT
            if ckpt.is_file() and ckpt.stat().st_mtime_ns != last.get("_previewed"):
                last["_previewed"] = ckpt.stat().st_mtime_ns
                status.preview_step = before + _preview(ckpt, photo, folder / PREVIEW_FILE)
                status.preview = str(folder / PREVIEW_FILE)
            status.write(folder)

        status.eta_s = _eta(config.archs, steps, index, 0, None)
        status.write(folder)
        lossnet = _lossnet(config, train_config)
        path = train(train_config, run, resume=(run / CHECKPOINT).is_file(), callback=progress, lossnet=lossnet)
        status.preview_step = before + _preview(path, photo, folder / PREVIEW_FILE)
        status.preview = str(folder / PREVIEW_FILE)
        _publish(path, request, painting, learned, train_config, {k: v for k, v in last.items() if k[0] != "_"})
        shutil.rmtree(run, ignore_errors=True)  # its checkpoints: the network is published
        status.archs_done = [*status.archs_done, arch]
        status.step = before + steps[index]
        status.write(folder)
    status.state, status.eta_s, status.finished = "done", 0.0, time.time()
    status.write(folder)
    return status


def _photos(config: LearnConfig, settings: dict) -> dict:
    """The training photos: the config's, the base network's own, or the fallback. The base's
    held-out patterns go with its own photos only (they would leave none of the example photos)."""
    if config.photos:
        return {"content_dir": config.photos, "exclude": ()}
    if settings.get("content_dir"):
        return {}
    if config.fallback_photos:
        return {"content_dir": config.fallback_photos, "exclude": ()}
    raise StyleTransferError(
        f"no training photos: the base network's are not on this machine; set photos in ${ENV_CONFIG}"
    )


def _preview_photo(config: LearnConfig, train_config):
    """The photo the previews paint, at the preview size (uint8 HxWx3)."""
    source = config.preview_photo or list_images(train_config.content_dir, train_config.exclude)[0]
    return images.load_array(source, long_side=config.preview_size)


def _preview(checkpoint: Path, photo, out: Path) -> int:
    """Paint ``photo`` with the checkpoint's newest style; returns the checkpoint's step."""
    net, card = read_model(checkpoint)
    painted = Network.from_module(net.select(net.config.styles - 1)).stylize(photo)
    images.save_image(painted, out)
    return card.steps


def _eta(archs, steps: list[int], index: int, step: int, seconds_per_step: float | None) -> float:
    """Seconds left: this network's steps at its measured pace (else the prior), the networks
    after it at their priors scaled by how this one compares with its own."""
    arch = archs[index]
    pace = seconds_per_step or SECONDS_PER_STEP[arch]
    scale = pace / SECONDS_PER_STEP[arch]
    later = sum(SECONDS_PER_STEP[a] * scale * n for a, n in zip(archs[index + 1 :], steps[index + 1 :]))
    return (steps[index] - step) * pace + later


def _lossnet(config: LearnConfig, train_config):
    if config.lossnet != "random":
        return None  # the pretrained VGG16 (fetched on first use: perceptual/weights.py)
    return random_vgg16((train_config.content_layer, *train_config.style_layers))


def _predicted_start(config, models: Path, request, painting: Path, learned: Path, folder: Path, status):
    """A lite network for the painting predicted in seconds (predicted.py), published at once so
    the painting is in every tab while it learns, and the start of lite's new row (measured on
    The Scream: 100 steps from it paint as 200 from the mean row did; docs/models.md). Returns
    its file, or None where the predictor does not fit the base lite network (another model
    folder) or a job runs without the pretrained VGG16 (tests)."""
    saved = folder / "predicted"
    if "lite" not in config.archs or config.lossnet != "pretrained":
        return None
    if (saved / f"{request['name']}.lite.safetensors").is_file():
        return saved / f"{request['name']}.lite.safetensors"
    base = base_model(models, "lite")
    path = predicted.predictor_path(base.parent)
    if not path.is_file() or predicted.Predicted.trained_for(path) != predicted.file_sha256(base):
        return None
    model = predicted.load(path)
    net = model.style_network([images.load_tensor(painting)])
    card = zoo.ModelCard(name=request["name"], arch="lite", title=request["title"])
    start = zoo.save(net, card, saved)
    if "lite" not in status.archs_done:
        info = {"predicted_by": path.name, "predictor_steps": model.info.get("steps", 0)}
        _publish_network(net, request, painting, learned, info, steps=0, losses={})
        status.predicted = True
        status.write(folder)
    return start


def _publish(checkpoint: Path, request: dict, painting: Path, learned: Path, train_config, losses: dict) -> Path:
    """The run's new style as a one-style model in the learned folder."""
    net, card = read_model(checkpoint)
    net = net.select(net.config.styles - 1)
    return _publish_network(net, request, painting, learned, asdict(train_config), card.steps, losses)


def _publish_network(net, request: dict, painting: Path, learned: Path, train_config: dict, steps: int, losses: dict):
    """A one-style network as the learned style, its thumbnail first (a style is listed once
    its card is written, last)."""
    name, title = request["name"], request["title"]
    learned.mkdir(parents=True, exist_ok=True)
    thumbnail = learned / f"{name}.jpg"
    if not thumbnail.is_file():
        images.save_image(images.load_array(painting, long_side=THUMBNAIL_SIZE), thumbnail)
    kept = learned / f"{name}.painting{painting.suffix.lower()}"
    if not kept.is_file():
        shutil.copyfile(painting, kept)
    entry = style_entry(kept, name, title)
    learned_card = zoo.ModelCard(
        name=name,
        arch=net.config.arch,
        title=title,
        train_config=train_config,
        steps=steps,
        losses=losses,
        style_sha256=entry.get("style_sha256", ""),
        painting=kept.name,
    )
    return zoo.save(net, learned_card, learned)


def main(argv: list[str] | None = None) -> int:
    """``python -m styletransfer.training.learn JOB_FOLDER``: run that job (learner.py starts it)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m styletransfer.training.learn JOB_FOLDER", file=sys.stderr)
        return 2
    folder = Path(args[0])
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    try:
        run_job(folder)
        return 0
    except BaseException as error:  # every end is recorded, a stray bug's too (its trace goes to log.txt)
        status = JobStatus.read(folder)
        if isinstance(error, StyleTransferError):
            status.error = str(error).splitlines()[0]
        else:
            status.error = f"something went wrong ({short_error(error)}); see {folder / 'log.txt'}"
        status.state, status.eta_s, status.finished = "failed", None, time.time()
        status.write(folder)
        if not isinstance(error, StyleTransferError):
            raise
        print(f"error: {status.error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
