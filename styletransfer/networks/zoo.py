"""Named feed-forward style models: files in pretrained/ or a Hugging Face Hub repo.

A model is two files side by side, ``NAME.ARCH.safetensors`` (fp16 weights: half the size,
and the networks do not need more precision to be stored) and ``NAME.ARCH.json``, its card:
what the painting is, how the network was built and trained, and how training ended.

A file may hold several styles (a network with conditional instance norm, transformer.py):
its card then lists them in ``styles``, one entry (name, title, artist, year, style_sha256,
painting) per row of its norms, and each style is found by its own name like a one-style model.
Lookup: an explicit file path, then the local folder, then the Hub repo (argument or
$STYLETRANSFER_HUB_REPO).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from dataclasses import dataclass, field

import torch

from styletransfer import dials, hub
from styletransfer.errors import StyleTransferError, short_error
from styletransfer.files import atomic_write
from styletransfer.networks.transformer import ARCHS, TransformerConfig, TransformerNet, build

# The shipped models; $STYLETRANSFER_PRETRAINED points the app and CLI at another folder.
PRETRAINED = pathlib.Path(
    os.environ.get("STYLETRANSFER_PRETRAINED") or pathlib.Path(__file__).resolve().parents[2] / "pretrained"
)
ENV_HUB_REPO = "STYLETRANSFER_HUB_REPO"


@dataclass(frozen=True)
class ModelCard:
    name: str  # short id used on the command line, e.g. "starry_night"
    arch: str  # one of transformer.ARCHS
    title: str = ""  # the painting's title
    artist: str = ""
    year: str = ""
    model_config: dict = field(default_factory=dict)  # dataclasses.asdict(TransformerConfig)
    train_config: dict = field(default_factory=dict)
    steps: int = 0
    losses: dict = field(default_factory=dict)  # final training losses
    style_sha256: str = ""  # of the painting the model was trained on
    painting: str = ""  # that painting's file, as training read it
    # A several-style file: one dict per style, in the order of its norms' rows.
    styles: list = field(default_factory=list)

    def style_card(self, index: int) -> ModelCard:
        """The card of one style of a several-style file, as if it were a model of its own."""
        entry = self.styles[index]
        known = {f.name for f in dataclasses.fields(ModelCard)} - {"styles"}
        return dataclasses.replace(self, styles=[], **{k: v for k, v in entry.items() if k in known})

    @classmethod
    def from_json(cls, path: pathlib.Path) -> ModelCard:
        try:
            data = json.loads(path.read_text())
            known = {f.name for f in dataclasses.fields(cls)}
            return cls(**{k: v for k, v in data.items() if k in known})
        except (OSError, ValueError, TypeError) as e:
            raise StyleTransferError(f"model card {path} is unreadable ({short_error(e)})") from e


def _stem(name: str, arch: str) -> str:
    return f"{name}.{arch}"


def _folder(folder) -> pathlib.Path:
    return pathlib.Path(folder) if folder is not None else PRETRAINED


def _files(folder) -> list[tuple[pathlib.Path, ModelCard]]:
    """(weights, card) of every model file in ``folder`` that has both."""
    found = []
    for card_path in sorted(_folder(folder).glob("*.json")):
        card = ModelCard.from_json(card_path)
        weights = _folder(folder) / f"{_stem(card.name, card.arch)}.safetensors"
        if weights.is_file():
            found.append((weights, card))
    return found


def available(folder=None) -> list[ModelCard]:
    """Cards of the styles in ``folder`` (default pretrained/), one per style and arch (a
    several-style file gives one each), sorted by name then arch."""
    cards = []
    for _, card in _files(folder):
        cards += [card.style_card(i) for i in range(len(card.styles))] if card.styles else [card]
    return sorted(cards, key=lambda c: (c.name, ARCHS.index(c.arch) if c.arch in ARCHS else len(ARCHS)))


def find(name: str, arch: str, folder=None) -> tuple[pathlib.Path, int | None] | None:
    """(weights file, row) holding style ``name`` for ``arch`` in ``folder``: its own file
    (row None) first, else a several-style file that lists it."""
    own = local_path(name, arch, folder)
    if own.is_file():
        return own, None
    for weights, card in _files(folder):
        names = [entry.get("name") for entry in card.styles]
        if card.arch == arch and name in names:
            return weights, names.index(name)
    return None


def thumbnail(name: str, folder=None) -> pathlib.Path | None:
    """The painting's small picture ``NAME.jpg`` beside the model files, if there is one."""
    path = _folder(folder) / f"{name}.jpg"
    return path if path.is_file() else None


def save(net: TransformerNet, card: ModelCard, folder=None) -> pathlib.Path:
    """Write the weights (fp16) and the card; returns the weights' path."""
    from safetensors.torch import save_file

    if net.config.styles != max(1, len(card.styles)):
        raise StyleTransferError(
            f"a network of {net.config.styles} styles needs a card that lists {net.config.styles}, not {len(card.styles)}"
        )
    folder = _folder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    card = dataclasses.replace(card, arch=net.config.arch, model_config=dataclasses.asdict(net.config))
    weights = folder / f"{_stem(card.name, card.arch)}.safetensors"
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in net.state_dict().items()}
    atomic_write(weights, lambda tmp: save_file(state, str(tmp), metadata={"format": "pt"}))
    text = json.dumps(dataclasses.asdict(card), indent=2) + "\n"
    atomic_write(weights.with_suffix(".json"), lambda tmp: tmp.write_text(text))
    return weights


def load_file(weights: pathlib.Path, row: int | None = None) -> tuple[TransformerNet, ModelCard]:
    """A model from its .safetensors file and the .json card beside it; ``row``: one style of a
    several-style file, as a one-style network (without it, the several-style network)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file as read

    weights = pathlib.Path(weights)
    card_path = weights.with_suffix(".json")
    if not weights.is_file() or not card_path.is_file():
        raise StyleTransferError(f"a model needs {weights.name} and {card_path.name} side by side; one is missing")
    card = ModelCard.from_json(card_path)
    try:
        net = build(TransformerConfig(**card.model_config))
        state = {k: v.float() for k, v in read(str(weights)).items()}
        net.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, ValueError, OSError, SafetensorError) as e:
        raise StyleTransferError(f"{weights} is damaged or does not match its card ({short_error(e)})") from e
    if row is not None:
        return net.select(row), card.style_card(row)
    return net.eval().requires_grad_(False), card


def with_added_style(card: ModelCard, entry: dict) -> ModelCard:
    """The card of ``card``'s model grown by one style (training's add_to): its styles, then ``entry``."""
    if card.styles:
        styles = list(card.styles)
    else:  # a one-style model becomes the first style of a several-style file
        styles = [{k: getattr(card, k) for k in ("name", "title", "artist", "year", "style_sha256", "painting")}]
    if entry["name"] in {s.get("name") for s in styles}:
        raise StyleTransferError(f"the model already has a style named {entry['name']!r}; choose another --name")
    name = card.name if card.styles else "zoo"
    return dataclasses.replace(
        card, name=name, title="", artist="", year="", style_sha256="", painting="", styles=[*styles, entry]
    )


def load_blend(weights: dict[str, float], arch: str = "full", *, folder=None) -> tuple[TransformerNet, ModelCard]:
    """Several styles of one several-style file mixed into one network (Dumoulin et al.'s
    interpolation: their scale-and-shift rows blended by ``weights``, which need not sum to 1)."""
    if not weights or min(weights.values()) < 0 or sum(weights.values()) <= 0:
        raise StyleTransferError("blend weights must be >= 0 and not all zero")
    places = {name: find(name, arch, folder) for name in weights}
    files = {place[0] for place in places.values() if place is not None and place[1] is not None}
    if len(files) != 1 or any(place is None or place[1] is None for place in places.values()):
        raise StyleTransferError(
            f"only styles of one several-style model can be blended; {', '.join(weights)} ({arch}) are not"
        )
    net, card = load_file(files.pop())
    mix = torch.zeros(net.config.styles)
    total = sum(weights.values())
    for name, weight in weights.items():
        mix[places[name][1]] = weight / total
    parts = [f"{card.style_card(places[n][1]).title or n} {w / total:.0%}" for n, w in weights.items() if w > 0]
    blended = dataclasses.replace(
        card,
        styles=[],
        name="+".join(n for n, w in weights.items() if w > 0),
        title=" + ".join(parts),
        artist="",
        year="",
    )
    return net.select(mix), blended


def local_path(name: str, arch: str, folder=None) -> pathlib.Path:
    """Where a model of that name and arch lives in ``folder`` (default pretrained/), if it does."""
    return _folder(folder) / f"{_stem(name, arch)}.safetensors"


def load(
    name: str, arch: str = "full", *, folder=None, hub_repo: str | None = None
) -> tuple[TransformerNet, ModelCard]:
    """A model by name (pretrained/ first, then the Hub repo) or by the path of its weights.

    The zoo's reader; callers get networks through networks.load_network, which caches them
    and puts them on their backend.
    """
    if name.endswith(".safetensors"):
        return load_file(pathlib.Path(name))
    dials.ARCH.check(arch)
    place = find(name, arch, folder)
    if place is not None:
        return load_file(*place)
    repo = hub_repo or os.environ.get(ENV_HUB_REPO)
    if repo:
        weights = hub.download(repo, f"{_stem(name, arch)}.safetensors")
        hub.download(repo, f"{_stem(name, arch)}.json")  # lands beside the weights in the snapshot
        return load_file(weights)
    names = sorted({f"{c.name} ({c.arch})" for c in available(folder)})
    known = ", ".join(names) if names else "none yet"
    raise StyleTransferError(f"no model named {name!r} with arch {arch!r}; available: {known}")


def push_to_hub(name: str, arch: str, repo_id: str, *, folder=None, token: str | None = None) -> str:
    """Upload a local model's two files to a Hub model repo; returns the repo URL."""
    from huggingface_hub import HfApi

    weights = _folder(folder) / f"{_stem(name, arch)}.safetensors"
    load_file(weights)  # refuse to publish a model that does not load
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="model", exist_ok=True)
        for path in (weights, weights.with_suffix(".json")):
            api.upload_file(path_or_fileobj=str(path), path_in_repo=path.name, repo_id=repo_id, repo_type="model")
    except Exception as e:  # offline, no token, no permission: say which
        raise StyleTransferError(f"could not publish to {repo_id} ({short_error(e)})") from e
    return f"https://huggingface.co/{repo_id}"
