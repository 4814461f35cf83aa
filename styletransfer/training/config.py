"""What a training run computes: TrainConfig, one frozen dataclass, saved with every checkpoint."""

from __future__ import annotations

from dataclasses import dataclass, fields

from styletransfer import dials
from styletransfer.errors import StyleTransferError
from styletransfer.networks.transformer import TransformerConfig
from styletransfer.perceptual.loss import STYLE_LAYERS, LossWeights
from styletransfer.perceptual.vgg import LAYER_INDEX

# Fields that may differ when resuming: how a run is executed, and its schedule (how many
# steps, and from which step and how strongly compound regularisation applies: a stable
# fine-tune at the end of a run is tuned by measuring video as it goes), which a run spanning
# many sessions may re-plan. The running average of the weights never feeds back into
# training. init only picks the starting weights, which a resume takes from the checkpoint instead.
RUNTIME_FIELDS = frozenset(
    {
        "steps",
        "checkpoint_every",
        "log_every",
        "device",
        "num_workers",
        "channels_last",
        "init",
        "temporal_from",
        "temporal_weight",
        "shift_weight",
        "average_decay",
    }
)


@dataclass(frozen=True)
class TrainConfig:
    style: str = ""  # the painting
    # Several paintings: one network with a scale-and-shift per painting (conditional instance
    # norm, Dumoulin et al. 2017); each image of a batch is matched to one of them in turn.
    styles: tuple[str, ...] = ()
    # Add the painting (style) to this trained model (a .safetensors or checkpoint.pt): one more
    # scale-and-shift row, the only thing trained; the convolutions stay as they are.
    add_to: str = ""
    content_dir: str = ""  # photos, searched recursively
    # File-name patterns (fnmatch) of photos kept out of training, e.g. the held-out photos
    # that bench/quality.py and the app's examples judge the models on.
    exclude: tuple[str, ...] = ()
    arch: str = dials.ARCH.default  # dials.ARCH
    blur: bool = True  # anti-aliased downsampling (transformer.TransformerConfig.blur)
    deperiod: bool = False  # remove the upsampling's period-4 pattern (transformer.Deperiod)
    # The same pattern as a loss instead: L1 of what Deperiod would remove from the output. The
    # Gram loss rewards the grid the upsamplings can stamp; this teaches the network not to,
    # at no cost when it runs (Deperiod costs lite 8-18% of its speed). 0 = off.
    period_weight: float = 0.0
    steps: int = 40_000  # Johnson et al.: 2 epochs of COCO's 80k images at batch 4
    batch_size: int = 4  # over all ranks together
    crop_size: int = 256
    # Scale jitter: each crop covers this fraction (drawn uniformly) of the photo's shorter
    # side before being resized to crop_size, so the network sees textures at many scales.
    crop_scale: tuple[float, float] = (0.5, 1.0)
    lr: float = 1e-3  # Adam
    content_weight: float = 1.0
    # Same dimensionless losses and STYLE_SCALE as gatys.py, so 1 means "balanced" there;
    # a feed-forward net matches style less closely, so this is a starting point, not tuned.
    style_weight: float = 1.0
    tv_weight: float = 0.0  # the sigmoid output and blurred downsampling already keep it smooth
    content_layer: str = "relu2_2"  # Johnson et al.
    style_layers: tuple[str, ...] = STYLE_LAYERS
    style_size: int = 512  # long side the painting is resized to (sets brush-stroke scale)
    temporal_weight: float = 0.0  # compound regularisation; 0 = off
    # The step after which compound regularisation applies: 0 = from the start; N > 0 makes the
    # steps after N a stable fine-tune. Its second pass through the network costs ~30% of a
    # full step on a CPU, and a fine-tune steadies a trained network as well (old zoo, weight 30).
    temporal_from: int = 0
    # Shift equivariance (regularisation.shift_loss): the output of the photo moved 1-3 whole
    # pixels must be the output moved alike, so strokes stay put on panning video. Its second
    # pass is the transformer's alone (no VGG), and it follows temporal_from's schedule. 0 = off.
    shift_weight: float = 0.0
    temporal_flow: float = 2.0  # largest smooth-flow displacement, pixels at crop_size
    temporal_shift: int = 4  # largest global translation, whole pixels
    temporal_noise: float = 0.02  # std of Gaussian noise added to the warped photo
    # Keep a running average of the weights (an exponential moving average, decay per step:
    # 0.998 spans ~500 steps), which is what the run is used as afterwards (networks.read_model):
    # with a few images a step, the weights after Adam's last step are noisy. 0 = off.
    average_decay: float = 0.0
    teacher: str = ""  # a trained model (checkpoint.pt or .safetensors) to distil; "" = none
    # Distil the teacher averaged over its pixel grid (Network.stylize's grid_average): a target
    # as steady on slow pans as the "steady" video mode, for a student that runs once a frame.
    teacher_grid_average: bool = False
    # Start from a trained model of the same arch instead of random weights. Fine-tuning a
    # network trained on another painting reaches a new style in a fraction of the steps:
    # styles differ mostly in instance-norm statistics (Dumoulin et al. 2017). With add_to: a
    # one-style model whose norms start the new row (the fast result's network, predicted.py)
    # instead of the mean of the model's rows.
    init: str = ""
    distill_weight: float = 1.0
    # L1 to the photo itself. With the content and style weights at 0 it trains an autoencoder
    # in minutes (no VGG pass), a starting point (--init) that keeps the photo readable from
    # the first step of style training instead of after thousands.
    reconstruct_weight: float = 0.0
    seed: int = 0
    checkpoint_every: int = 1000
    log_every: int = 10
    device: str = "auto"  # "cpu", "cuda" or "auto"
    amp: str = "off"  # "off", "bf16" or "fp16"; CUDA only (ignored on CPU)
    channels_last: bool = False  # faster on GPUs; slower on the 2-core CPU (measured: convolutions lost speed)
    num_workers: int = 0  # DataLoader processes decoding photos

    def __post_init__(self):
        # Lists from the CLI or JSON become tuples, so the config stays hashable and comparable.
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))
        validate(self)

    @property
    def paintings(self) -> tuple[str, ...]:
        return self.styles or ((self.style,) if self.style else ())

    @property
    def model_config(self) -> TransformerConfig:
        return TransformerConfig(
            arch=self.arch, blur=self.blur, styles=max(1, len(self.styles)), deperiod=self.deperiod
        )

    @property
    def loss_weights(self) -> dict[str, float]:
        """The weight of every loss term, by name (training/log.py TERMS' order)."""
        return {
            "content": self.content_weight,
            "style": self.style_weight,  # the perceptual loss scales it by STYLE_SCALE
            "tv": self.tv_weight,
            "temporal": self.temporal_weight,
            "distill": self.distill_weight,
            "reconstruct": self.reconstruct_weight,
            "period": self.period_weight,
            "shift": self.shift_weight,
        }

    @property
    def perceptual_weights(self) -> LossWeights:
        return LossWeights(content=self.content_weight, style=self.style_weight, tv=self.tv_weight)


def validate(c: TrainConfig) -> None:
    def need(ok, message):
        if not ok:
            raise StyleTransferError(message)

    _ = c.model_config  # unknown arch: its own message
    need(not (c.style and c.styles), "give one painting (style) or several (styles), not both")
    need(
        not (c.add_to and (c.styles or c.teacher)),
        "adding a style takes one painting (style), the model (add_to) and perhaps a start for its row (init) only",
    )
    need(c.steps >= 1, f"steps must be >= 1, got {c.steps}")
    need(c.batch_size >= 1, f"batch size must be >= 1, got {c.batch_size}")
    need(16 <= c.crop_size <= 2048, f"crop size must be 16..2048 px, got {c.crop_size}")
    need(
        len(c.crop_scale) == 2 and 0 < c.crop_scale[0] <= c.crop_scale[1] <= 1,
        f"crop scale must be two numbers 0 < lo <= hi <= 1, got {c.crop_scale}",
    )
    need(c.lr > 0, f"learning rate must be > 0, got {c.lr}")
    weights = (
        c.content_weight,
        c.style_weight,
        c.tv_weight,
        c.temporal_weight,
        c.distill_weight,
        c.reconstruct_weight,
        c.period_weight,
        c.shift_weight,
    )
    need(min(weights) >= 0, "loss weights must be >= 0")
    for name in (c.content_layer, *c.style_layers):
        need(name in LAYER_INDEX and name.startswith("relu"), f"unknown VGG16 layer {name!r}; use names like relu2_2")
    need(len(c.style_layers) >= 1, "give at least one style layer")
    need(32 <= c.style_size <= 4096, f"style size must be 32..4096 px, got {c.style_size}")
    need(
        c.temporal_flow >= 0 and c.temporal_shift >= 0 and c.temporal_noise >= 0,
        "temporal flow, shift and noise must be >= 0",
    )
    need(c.temporal_from >= 0, "temporal_from must be >= 0")
    need(0 <= c.average_decay < 1, f"average decay must be in [0, 1), got {c.average_decay}")
    need(c.checkpoint_every >= 1 and c.log_every >= 1, "checkpoint_every and log_every must be >= 1")
    need(c.device in ("auto", "cpu", "cuda"), f"device must be auto, cpu or cuda, got {c.device!r}")
    need(c.amp in ("off", "bf16", "fp16"), f"amp must be off, bf16 or fp16, got {c.amp!r}")
    need(c.num_workers >= 0, "num_workers must be >= 0")
