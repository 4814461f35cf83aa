"""Every setting a user turns, declared once: its range (a Dial) or its values (a Choice),
default, unit, help and the message for a bad value. The engine's checks, the CLI's options
(cli.add_dial, cli.add_choice), the page's sliders and radios (ui/common.slider, choice_radio)
and the API's inputs all read these; nothing else declares a range or a list of values.

Three settings are "how strong": they are different things and have different names.

- STYLE_MIX: a pretrained network's output mixed with the photo (0 = the photo, 1 = the
  network's painting). Instant styles, video, webcam.
- TEXTURE_STRENGTH: how much of the paintings the any-painting fast result takes (predicted.py:
  its painting mixed with the photo; universal.py, wct.py: how far the photo's features move
  toward the paintings' statistics).
- STYLE_WEIGHT: Gatys's style loss weight relative to the content loss (1 = balanced).

``page``: a narrower range for the hosted page and its API, where the engine's own would let
one request hold the CPU for hours; ``page_why`` says so in the message when a value the
command line would take is refused there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from styletransfer.errors import StyleTransferError


@dataclass(frozen=True)
class Dial:
    name: str  # the setting's name in code, configs and (as --name) on the command line
    label: str  # what a user reads, in messages and (capitalised) on the page
    low: float
    high: float  # math.inf: no upper bound
    default: float
    unit: str = ""  # " px": appended to the numbers
    help: str = ""  # one line: what the numbers mean
    integer: bool = False  # whole numbers (a fraction is rounded)
    step: float = 0.05  # the page's slider step
    page: tuple[float, float] | None = None  # the hosted page's range (None: the engine's)
    page_why: str = ""

    def __post_init__(self):
        for low, high in (self.range(), self.range(page=True)):
            if not low <= self.default <= high:
                raise ValueError(f"{self.name}: default {self.default} outside {low}..{high}")

    def range(self, page: bool = False) -> tuple[float, float]:
        return self.page if page and self.page is not None else (self.low, self.high)

    def range_text(self, page: bool = False) -> str:
        """'32..2048 px', or '0 or more' for an open range."""
        low, high = self.range(page)
        if math.isinf(high):
            return f"{_shown(low)}{self.unit} or more"
        return f"{_shown(low)}..{_shown(high)}{self.unit}"

    @property
    def title(self) -> str:
        """The label as the page's widgets show it."""
        return self.label[:1].upper() + self.label[1:]

    def check(self, value, *, page: bool = False) -> float | int:
        """The value as a number (an int for whole-number dials), if it is one within range; a
        number in text ("0.5", as a form or a client may send it) counts. Anything else (a
        bool, NaN, inf, text that is no number, out of range) raises StyleTransferError with
        one line: "<label> must be <range>, got <value>"."""
        number = _number(value)
        low, high = self.range(page)
        if number is None or not low <= number <= high:  # also refuses NaN
            shown = repr(value) if number is None else _shown(number)
            message = f"{self.label} must be {self.range_text(page)}, got {shown}"
            if page and self.page_why and number is not None and self.low <= number <= self.high:
                message += f" ({self.page_why})"
            raise StyleTransferError(message)
        return round(number) if self.integer else number

    def accepts(self, value, *, page: bool = False) -> bool:
        try:
            self.check(value, page=page)
        except StyleTransferError:
            return False
        return True


@dataclass(frozen=True)
class Choice:
    """A setting with a few named values, each with a one-line meaning (the page's words for it)."""

    name: str  # the setting's name in code, configs and the API, and (as --name) on the command line
    label: str  # what a user reads in messages, and (capitalised) on the page
    choices: tuple[tuple[str, str], ...]  # (value, its meaning in one line), in the page's order
    default: str
    help: str = ""  # one line: what the setting does

    def __post_init__(self):
        if self.default not in self.values:
            raise ValueError(f"{self.name}: default {self.default!r} not one of {self.values}")

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(value for value, _ in self.choices)

    @property
    def title(self) -> str:
        """The label as the page's widgets show it."""
        return self.label[:1].upper() + self.label[1:]

    def meanings(self) -> str:
        """'full = Full (best quality); lite = Lite (fastest)', for the command line's help."""
        return "; ".join(f"{value} = {meaning}" for value, meaning in self.choices)

    def check(self, value) -> str:
        """The value, if it is one of the choices; else StyleTransferError with one line:
        "<label> must be one of a, b, c; got 'x'"."""
        if isinstance(value, str) and value in self.values:
            return value
        raise StyleTransferError(f"{self.label} must be one of {', '.join(self.values)}; got {value!r}")


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _shown(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def checked(dials: Mapping[str, Dial], values: Mapping, *, page: bool = False) -> dict:
    """``values`` with those named in ``dials`` checked and read as numbers."""
    return {name: dials[name].check(value, page=page) if name in dials else value for name, value in values.items()}


# ---------------------------------------------------------------- pretrained networks (instant, video, webcam)

ARCH = Choice(
    "arch",
    "network",
    (("full", "Full (best quality)"), ("lite", "Lite (fastest)")),
    "full",
    help="the pretrained network",
)
# The network a video gets unless told (the CLI's `video`, the Video tab, the /video endpoint):
# lite, about 5x the full network's frame rate on a CPU (10 against 2 frames a second at 640x360).
VIDEO_ARCH = replace(ARCH, default="lite")

STYLE_MIX = Dial(
    "strength",
    "style mix",
    0.0,
    1.0,
    1.0,
    help="0 = the photo, 1 = the network's painting in full",
)
# The app's instant mode: the output's long side, a ceiling (a smaller photo keeps its size:
# a network adds no detail). The command line takes any size.
INSTANT_SIZE = Dial(
    "size",
    "output size",
    256,
    2048,
    1024,
    " px",
    "long side; a smaller photo keeps its own size (never enlarged)",
    integer=True,
    step=16,
)
STYLE_BLEND = Dial("blend", "blend", 0.0, 1.0, 0.5, help="0 = the clicked style, 1 = the second style")
# A video's output size relative to its own. The page never enlarges: a network adds no detail.
VIDEO_SCALE = Dial(
    "scale",
    "video scale",
    0.01,
    4.0,
    1.0,
    help="of the video's own size; 0.5 = half the width and height, 4× faster",
    page=(0.1, 1.0),
    page_why="the app never enlarges a video: a network adds no detail",
)
# The command line's one setting for what the page and the API ask with two checkboxes
# ("Steady between frames", "Extra steady"): video/stylize.temporal_options reads it.
TEMPORAL = Choice(
    "temporal",
    "temporal mode",
    (
        ("blend", "blend each frame with those before and after it along the optical flow: far less flicker"),
        ("steady", "blend, and average the network over its pixel grid: steadier on slow pans, 4x the network's time"),
        ("off", "each frame painted on its own"),
    ),
    "blend",
    help="how the style is steadied between frames",
)

# ---------------------------------------------------------------- any painting, fast (any_painting.fast)

# What paints the fast result. 4 paintings the predictor never saw x 4 held-out photos at 384 px
# (python -m scripts.style_predictor eval), at the default strength 0.8: predicted style ratio
# 0.291 / content 10.9 / 0.3 s at 512 px, universal 0.330 / 11.9 / 2-4 s.
FAST_METHOD = Choice(
    "fast_method",
    "fast result's painter",
    (
        ("predicted", "Predicted network: brush strokes, 0.3 s"),
        ("universal", "Feature transform: the painting's statistics, 2-4 s"),
    ),
    "predicted",
    help="what paints the fast result",
)

# Same bench as universal.py's ridge, ridge 1: strength 0.8 gives style ratio 0.406 / content
# 11.0 / structure 0.40, 0.9: 0.400 / 11.6 / 0.38, 1.0: 0.398 / 12.1 / 0.37 (the peer: 0.418 /
# 11.5 / 0.27). Hence 0.8.
TEXTURE_STRENGTH = Dial(
    "strength",
    "texture strength",
    0.0,
    1.0,
    0.8,
    help="0 = the photo, 1 = the paintings' textures in full",
)
# bench/universal.py: 1024x768 takes 6.6 s and peaks at 5.3 GB (onnxruntime keeps a memory arena
# per session); 2048 px would need ~20 GB. Below 32 px Refine (Gatys) cannot start from it.
PAINT_SIZE = Dial("size", "output size", 32, 1024, 512, " px", "long side", integer=True, step=16)
PAINTING_SCALE = Dial(
    "painting_scale",
    "painting scale",
    0.25,
    4.0,
    1.0,
    help="the painting's size relative to the output; bigger = larger brush strokes",
)

# ---------------------------------------------------------------- Gatys (gatys.py)

# VGG activations and their gradients need ~8 GB at 2048 px; below 32 the deepest layers are a
# pixel or two wide.
GATYS_SIZE = Dial(
    "size",
    "output size",
    32,
    2048,
    512,
    " px",
    "long side",
    integer=True,
    step=16,
    page=(32, 1024),
    page_why="the app stops at 1024 px: beyond this a CPU run takes hours",
)
STEPS = Dial(
    "steps",
    "steps",
    1,
    10_000,
    100,
    help="optimisation steps over all scales together (~70 s for 100 at 512 px on a 2-core CPU)",
    integer=True,
    step=1,
    page=(1, 1000),
    page_why="the app stops at 1000 steps: a CPU run would take hours",
)
STYLE_WEIGHT = Dial(
    "style_weight",
    "style weight",
    0.0,
    math.inf,
    1.0,
    help="the style loss against the photo's content: 1 = balanced; higher = more painting, less photo",
    page=(0.0, 10.0),
    page_why="the app stops at 10: above 1, each tenfold changes little",
)
CONTENT_WEIGHT = Dial("content_weight", "content weight", 0.0, math.inf, 1.0, help="weight of the content (photo) loss")
TV_WEIGHT = Dial("tv_weight", "smoothness (TV weight)", 0.0, math.inf, 0.0, help="total-variation weight")
# Gatys's painting size relative to the output's. On the page it is also the painting scale of
# the fast result Refine starts from (PAINTING_SCALE: from 0.25).
STYLE_SCALE = Dial(
    "style_scale",
    "style scale",
    0.05,
    4.0,
    1.0,
    help="painting size relative to the output; smaller = finer brush strokes",
    page=(0.25, 2.0),
)
SEED = Dial("seed", "seed", 0, 2**32 - 1, 0, help="random seed (noise start)", integer=True, step=1)
OPTIMIZER = Choice(
    "optimizer",
    "optimiser",
    (("lbfgs", "L-BFGS (best per step)"), ("adam", "Adam (steady)")),
    "lbfgs",
    help="how Gatys optimises the image",
)
# Gatys et al. 2016, "Preserving Color in Neural Artistic Style Transfer" (colors.py).
COLORS = Choice(
    "preserve_colors",
    "colours",
    (
        ("none", "Painting's colours"),
        ("luminance", "Photo's colours (luminance transfer)"),
        ("histogram", "Photo's colours (histogram matching)"),
    ),
    "none",
    help="whose colours the result has",
)
# Where the app's Refine starts (any_painting.refine): the fast result, the photo or noise.
REFINE_START = Choice(
    "init",
    "Refine's start (init)",
    (("fast", "Fast result"), ("content", "Photo"), ("noise", "Noise")),
    "fast",
    help="the image Gatys optimises from",
)


def painting_weights(value, count: int) -> tuple[float, ...] | None:
    """One weight per painting, from text ('2, 1', as the page and the API send them) or
    numbers; empty or None: equal weights (None)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        parts = value.replace(";", ",").split(",")
    elif isinstance(value, Sequence):
        parts = list(value)
    else:
        parts = [value]
    found = tuple(_number(part) for part in parts)
    if None in found or min(found) < 0 or sum(found) <= 0:
        raise StyleTransferError(
            f"painting weights must be numbers >= 0 separated by commas, not all 0, e.g. 2, 1; got {value!r}"
        )
    if len(found) != count:
        raise StyleTransferError(f"give one painting weight per painting ({count}), got {len(found)}")
    return found
