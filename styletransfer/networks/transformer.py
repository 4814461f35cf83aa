"""Feed-forward style networks (Johnson et al. 2016): one pass turns a photo into a painting.

Two recipes share one layout (encoder -> residual blocks -> decoder -> head):

- "full": the paper's image transformation network as in pytorch/examples fast_neural_style:
  9x9 conv 32, stride-2 convs 64 and 128, five residual blocks of 128, two upsample-then-conv
  stages (nearest x2 + 3x3 conv, no transposed convs, so no checkerboard), 9x9 conv to RGB;
  reflection padding and affine instance norm throughout.
- "lite": for real time on a 2-core CPU, 1/22 of full's multiply-accumulates. Channels
  16/32/64, 5x5 stem, 3x3 head, four residual blocks and both upsampling stages built from
  depthwise-separable convolutions (see _SPECS for the measured trade-offs).

Contract: input and output are float RGB (B, 3, H, W) in [0, 1], any H, W >= MIN_SIDE, output
the same size. Departures from the reference, and why:

- Input range: the reference feeds [0, 255]. Here [0, 1] goes in unchanged. The stem conv has
  no bias and is followed by instance norm, which removes any per-channel scale and offset, so
  the network computes the same function for [0, 1], [0, 255] or [-1, 1] (up to norm's eps).
- Output: sigmoid of the head, so every output is a valid image and the losses see exactly
  what the user will see. The reference leaves the output unbounded and clamps when saving; a
  clamp inside the network would give zero gradient to every pixel pushed past 0 or 1, which
  can then never come back. Sigmoid (= a scaled tanh, (1 + tanh(x / 2)) / 2) never cuts the
  gradient off, and at initialisation it starts every image near mid grey.
- Convolutions followed by instance norm have no bias: the norm subtracts it again, so it
  would be a parameter that never learns (and checkpoints would carry dead weights). For
  the same reason the last norm of each residual block learns a scale but no shift.
- Any size: the image is reflection-padded on the bottom/right to a multiple of 4 (the two
  stride-2 stages) and cropped back, with pads computed from the traced shape, so ONNX
  exports with dynamic height and width stay correct at every size.
- blur (default on): a fixed [1,2,1]x[1,2,1]/16 low-pass before each stride-2 conv, after
  Zhang 2019, "Making convolutional networks shift-invariant again". Blurring before a
  (linear) strided conv equals blurring its stride-1 output before subsampling, i.e. an
  anti-aliased downsample. Without it a one-pixel shift of the camera changes which pixels
  the stride-2 convs sample, and textures flicker in video. It adds 0.3% (full) and 3%
  (lite) to the MACs.
- Instance norm never tracks running statistics, so training and eval compute the same
  thing and exports need no batch-statistics buffers.
- deperiod (off by default, so every existing model computes what it did): the two
  nearest-x2 upsamplings weight a pixel by its position mod 4, and trained networks use that
  as a free source of fine texture. The painted zoo at step 7,800 stamped the same 4x4 pattern
  (std 4.5-9.8 grey levels) on every painting and photo, seen as a fine diagonal cross-hatch.
  Removing it after training cost style distance (0.187 -> 0.203), because the Gram loss had
  rewarded it; trained through the fixed Deperiod layer, the network found other texture in
  200 steps (0.181 vs 0.180) and the pattern fell to 0.1 grey levels.

Several styles in one network (``styles`` > 1): conditional instance norm, Dumoulin et al. 2017
("A Learned Representation for Artistic Style"). The convolutions are shared; every affine
norm (and each residual block's gain) holds one scale-and-shift row per style, weight and bias
of shape (S, C) under the same state_dict keys as the one-style network's (C,). Row s with
the shared convolutions is a one-style network (``select``), and so is any mix of rows
(a blend of styles, ``select`` with weights), which is what inference, ONNX export, video
and the webcam run: they never see the multi-style network.

A checkpoint stores dataclasses.asdict(config) and rebuilds with build(TransformerConfig(**d)).
An arch name is therefore a frozen recipe: never change what an existing name builds; add a
new name instead.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from styletransfer import dials
from styletransfer.errors import StyleTransferError

ARCHS = dials.ARCH.values  # the user's choice (dials.ARCH): one _Spec each below
MIN_SIDE = 8  # padded to 8, the stride-4 maps are 2x2: the smallest that 3x3 reflection pads allow
MULTIPLE = 4  # two stride-2 stages: padding to a multiple of 4 makes the decoder land on H, W exactly


@dataclass(frozen=True)
class _Spec:
    channels: tuple[int, int, int]  # at full, 1/2 and 1/4 resolution
    stem_kernel: int
    head_kernel: int
    blocks: int  # residual blocks at 1/4 resolution
    separable: bool  # residual blocks and upsampling convs depthwise-separable


# MACs per input pixel (blur on): full 154k, lite 7.0k. Most of full's cost is in the
# 128-channel residual blocks (60%) and the two upsampling convs (24%); lite makes both
# depthwise-separable and runs the 1x1 half of each upsampling conv before the upsample.
# Measured on the 2-core CPU (onnxruntime, 1 thread, 640x360): convs with 3 output channels
# waste most of a 16-channel SIMD block, so a 5x5 head took a quarter of lite's time; a 3x3
# head cut the frame from 100 to 74 ms. A 9x9 stem would add 16 ms, a fifth residual block 8 ms.
_SPECS = {
    "full": _Spec(channels=(32, 64, 128), stem_kernel=9, head_kernel=9, blocks=5, separable=False),
    "lite": _Spec(channels=(16, 32, 64), stem_kernel=5, head_kernel=3, blocks=4, separable=True),
}


@dataclass(frozen=True)
class TransformerConfig:
    """Everything needed to rebuild a network; checkpoints store dataclasses.asdict() of it."""

    arch: str = "full"  # one of ARCHS
    blur: bool = True  # anti-aliased downsampling: steadier video for 0.3% (full) / 3% (lite) more MACs
    styles: int = 1  # > 1: conditional instance norm, one scale-and-shift per style
    deperiod: bool = False  # remove the upsampling's period-4 pattern before the sigmoid (Deperiod)

    def __post_init__(self):
        dials.ARCH.check(self.arch)
        for name in ("blur", "deperiod"):
            if not isinstance(getattr(self, name), bool):
                raise StyleTransferError(f"{name} must be true or false, not {getattr(self, name)!r}.")
        if isinstance(self.styles, bool) or not isinstance(self.styles, int) or self.styles < 1:
            raise StyleTransferError(f"styles must be a whole number >= 1, not {self.styles!r}.")


def build(config: TransformerConfig = TransformerConfig()) -> TransformerNet:
    """A freshly initialised network for config."""
    return TransformerNet(config)


class Blur(nn.Module):
    """Fixed [1,2,1]x[1,2,1]/16 low-pass per channel, unpadded (output 2 px smaller)."""

    def __init__(self, channels: int):
        super().__init__()
        k = torch.tensor([1.0, 2.0, 1.0])
        kernel = torch.outer(k, k) / 16
        # A constant, not a weight: kept out of state_dict so checkpoints hold learned values only.
        self.register_buffer("kernel", kernel.expand(channels, 1, 3, 3).clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.kernel, groups=self.kernel.shape[0])


class Deperiod(nn.Module):
    """Removes the local period-``period`` component of an image: each pixel minus the mean of
    the pixels of its phase (the same position mod period) within ``reach`` lattice steps, plus
    the mean of those means over every phase. Constants and linear ramps pass unchanged (away
    from the borders); a pattern repeating every ``period`` pixels is removed.

    Both means are normalised convolutions over the pixels inside the image: padding would mix
    phases at the borders, and a network trained through a leaky border learned to paint there.
    No weights, so turning it on loads the same checkpoints.
    """

    def __init__(self, period: int = MULTIPLE, reach: int = 4):
        super().__init__()
        self.period = period
        self.lattice = (1.0,) * (2 * reach + 1)  # taps every `period` pixels: one phase's neighbours
        # The mean over every phase: a (period + 1)-wide window with half weights at both ends
        # gives each phase the same weight and stays centred (an even window shifts by half a pixel).
        self.phases = (0.5,) + (1.0,) * (period - 1) + (0.5,)
        # Pixels nearer a border than this (both means' reach) see windows the border cuts:
        # there a ramp does not pass exactly.
        self.border = period * reach + len(self.phases) // 2

    @staticmethod
    def _sum(x: torch.Tensor, taps: tuple[float, ...], step: int, dim: int) -> torch.Tensor:
        """Sum of x's neighbours along dim, `step` apart, weighted by taps (centred), zero outside.
        Shifted slices, not convolutions: the filter takes 9 ms at 640x360 on 2 cores this way,
        25 ms as two dilated depthwise 2-D convolutions."""
        pad = step * (len(taps) // 2)
        padded = F.pad(x, (pad, pad, 0, 0) if dim == 3 else (0, 0, pad, pad))
        size = x.shape[dim]
        total = None
        for k, w in enumerate(taps):
            term = padded.narrow(dim, k * step, size)
            term = term if w == 1.0 else term * w
            total = term if total is None else total + term
        return total

    def _mean(self, x: torch.Tensor, taps: tuple[float, ...], step: int) -> torch.Tensor:
        """x's weighted mean over the window taps x taps, counting only pixels inside the image
        (both the window and the image are a row times a column, so the weight inside is too)."""
        total = self._sum(self._sum(x, taps, step, 3), taps, step, 2)
        inside = self._sum(torch.ones_like(x[:1, :1, :, :1]), taps, step, 2) * self._sum(
            torch.ones_like(x[:1, :1, :1]), taps, step, 3
        )
        return total / inside

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        same_phase = self._mean(x, self.lattice, self.period)
        every_phase = self._mean(same_phase, self.phases, 1)
        return x - (same_phase - every_phase)


def _conv(cin: int, cout: int, kernel: int, stride: int = 1, separable: bool = False) -> list[nn.Module]:
    """Reflection-padded convolution without bias (a norm follows); separable: depthwise + 1x1."""
    pad = [nn.ReflectionPad2d(kernel // 2)] if kernel > 1 else []
    if not separable:
        return pad + [nn.Conv2d(cin, cout, kernel, stride, bias=False)]
    return pad + [
        nn.Conv2d(cin, cin, kernel, stride, groups=cin, bias=False),  # depthwise: space
        nn.Conv2d(cin, cout, 1, bias=False),  # pointwise: channels
    ]


class StyleChoice:
    """The style mix of the forward pass under way, shared by a network's conditional norms:
    (B, S) weights, one row per image. Set by TransformerNet.forward only."""

    weights: torch.Tensor | None = None


class StyleNorm(nn.Module):
    """Instance norm, then a scale (and shift) mixed from per-style rows: weight, bias (S, C)."""

    def __init__(self, channels: int, styles: int, choice: StyleChoice, shift: bool = True, normalize: bool = True):
        super().__init__()
        self.choice, self.normalize = choice, normalize
        self.weight = nn.Parameter(torch.ones(styles, channels))
        self.bias = nn.Parameter(torch.zeros(styles, channels)) if shift else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.choice.weights  # (B, S)
        if self.normalize:
            x = F.instance_norm(x)
        x = x * (w @ self.weight)[:, :, None, None]
        return x + (w @ self.bias)[:, :, None, None] if self.bias is not None else x


def _norm(channels: int, styles: int, choice: StyleChoice) -> nn.Module:
    # track_running_stats=False (the default, spelled out): train and eval behave the same.
    if styles == 1:
        return nn.InstanceNorm2d(channels, affine=True, track_running_stats=False)
    return StyleNorm(channels, styles, choice)


def _norm_relu(channels: int, styles: int = 1, choice: StyleChoice | None = None) -> list[nn.Module]:
    return [_norm(channels, styles, choice), nn.ReLU(inplace=True)]


class Down(nn.Sequential):
    """Stride-2 3x3 conv, optionally anti-aliased, then norm and ReLU.

    With blur, one 2-px reflection pad serves both the blur and the conv: for a symmetric
    kernel, reflect-pad-then-blur equals blur-then-reflect-pad exactly, and each separate
    pad costs onnxruntime a layout round trip (lite: ~4 ms a frame at 640x360).
    """

    def __init__(self, cin: int, cout: int, blur: bool, styles: int = 1, choice: StyleChoice | None = None):
        super().__init__(
            nn.ReflectionPad2d(2 if blur else 1),
            Blur(cin) if blur else nn.Identity(),  # Identity: same layer indices, same state_dict keys
            nn.Conv2d(cin, cout, 3, stride=2, bias=False),
            *_norm_relu(cout, styles, choice),
        )


class Up(nn.Sequential):
    """Nearest x2 then 3x3 conv (Odena et al. 2016: no checkerboard), norm, ReLU.

    Separable: the 1x1 conv commutes with nearest upsampling, so it runs first at half
    resolution (4x cheaper) and only the depthwise 3x3 runs at the new size.
    """

    def __init__(self, cin: int, cout: int, separable: bool, styles: int = 1, choice: StyleChoice | None = None):
        upsample = nn.Upsample(scale_factor=2, mode="nearest")
        if separable:
            layers = [nn.Conv2d(cin, cout, 1, bias=False), upsample, nn.ReflectionPad2d(1)]
            layers.append(nn.Conv2d(cout, cout, 3, groups=cout, bias=False))
        else:
            layers = [upsample, *_conv(cin, cout, 3)]
        super().__init__(*layers, *_norm_relu(cout, styles, choice))


class Scale(nn.Module):
    """A learned gain per channel: the scale half of an affine norm."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight[:, None, None]


class Residual(nn.Module):
    """x + conv-norm-relu-conv-norm(x), as in the reference (no ReLU after the sum).

    The last norm learns a scale but no shift. A per-channel constant added to the
    residual stream stays constant through reflection padding and nearest upsampling, and
    the next conv + instance norm subtracts it again: in the reference that shift is a
    parameter whose gradient is exactly zero.
    """

    def __init__(self, channels: int, separable: bool, styles: int = 1, choice: StyleChoice | None = None):
        super().__init__()
        if styles == 1:
            gain = Scale(channels)
        else:  # the gain alone, per style (the norm before it has no parameters)
            gain = StyleNorm(channels, styles, choice, shift=False, normalize=False)
        self.body = nn.Sequential(
            *_conv(channels, channels, 3, separable=separable),
            *_norm_relu(channels, styles, choice),
            *_conv(channels, channels, 3, separable=separable),
            nn.InstanceNorm2d(channels, affine=False, track_running_stats=False),
            gain,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class TransformerNet(nn.Module):
    """(B, 3, H, W) in [0, 1] -> (B, 3, H, W) in [0, 1]; see the module docstring."""

    def __init__(self, config: TransformerConfig = TransformerConfig()):
        super().__init__()
        self.config = config
        spec = _SPECS[config.arch]
        c1, c2, c3 = spec.channels
        s, self.choice = config.styles, StyleChoice()
        self.encoder = nn.Sequential(
            nn.Sequential(*_conv(3, c1, spec.stem_kernel), *_norm_relu(c1, s, self.choice)),
            Down(c1, c2, config.blur, s, self.choice),  # 1/2 resolution
            Down(c2, c3, config.blur, s, self.choice),  # 1/4 resolution
        )
        self.residuals = nn.Sequential(*(Residual(c3, spec.separable, s, self.choice) for _ in range(spec.blocks)))
        self.decoder = nn.Sequential(
            Up(c3, c2, spec.separable, s, self.choice), Up(c2, c1, spec.separable, s, self.choice)
        )
        # The only conv with a bias: no norm follows it; sigmoid(bias) sets the mean colour.
        self.head = nn.Sequential(nn.ReflectionPad2d(spec.head_kernel // 2), nn.Conv2d(c1, 3, spec.head_kernel))
        # Identity when off: the same modules and state_dict keys either way.
        self.deperiod = Deperiod() if config.deperiod else nn.Identity()

    def forward(self, image: torch.Tensor, style=None) -> torch.Tensor:
        """style (several-style networks only): an index for the whole batch, (B,) indices, or
        blend weights (S,) or (B, S). Not thread-safe for those: one forward at a time."""
        _check_input(image)
        if self.config.styles > 1:
            self.choice.weights = self.style_weights(style, image.shape[0], image.device)
        elif style is not None:
            raise ValueError("this network has one style: call it without one")
        height, width = image.shape[-2], image.shape[-1]
        x = pad_to_multiple(image, MULTIPLE)  # never modifies the caller's tensor
        x = self.head(self.decoder(self.residuals(self.encoder(x))))
        # On the logits, so the output stays in (0, 1) without a clamp that would cut gradients.
        return torch.sigmoid(self.deperiod(x[:, :, :height, :width]))

    def style_weights(self, style, batch: int, device) -> torch.Tensor:
        """(B, S) style weights from an index, (B,) indices, or (S,) / (B, S) blend weights."""
        styles = self.config.styles
        if style is None:
            raise ValueError(f"this network has {styles} styles: say which (an index or blend weights)")
        style = torch.as_tensor(style, device=device)
        if not style.is_floating_point():
            style = F.one_hot(style.long().expand(batch), styles)
        return style.float().expand(batch, styles)

    def select(self, style) -> TransformerNet:
        """A one-style network: row ``style`` of every norm, or rows mixed by weights (S,)."""
        if self.config.styles == 1:
            return self
        w = self.style_weights(style, 1, "cpu")[0]  # (S,)
        net = TransformerNet(dataclasses.replace(self.config, styles=1))
        state = {
            k: (w @ v.detach().cpu().float() if v.ndim == 2 else v.detach().cpu()) for k, v in self.state_dict().items()
        }
        net.load_state_dict(state)
        return net.eval().requires_grad_(False)

    def add_style(self) -> TransformerNet:
        """This network with one more style, whose scale-and-shift starts as the mean of its
        styles' (a neutral point to fit a new painting from); the convolutions are shared."""
        if self.config.styles == 1:
            return self.widen(2)  # the mean of one style is that style
        net = TransformerNet(dataclasses.replace(self.config, styles=self.config.styles + 1))
        net.load_state_dict(
            {k: torch.cat([v, v.mean(0, keepdim=True)]) if v.ndim == 2 else v for k, v in self.state_dict().items()}
        )
        return net

    def style_parameters(self) -> list[nn.Parameter]:
        """The per-style scale-and-shift rows: what adding a painting trains."""
        return [p for p in self.parameters() if p.ndim == 2]

    def widen(self, styles: int) -> TransformerNet:
        """This one-style network as a ``styles``-style one whose every style starts as it is."""
        net = TransformerNet(dataclasses.replace(self.config, styles=styles))
        wide = net.state_dict()
        net.load_state_dict({k: v.expand_as(wide[k]).clone() for k, v in self.state_dict().items()})
        return net


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Reflection-pad bottom and right so that H and W become multiples of `multiple`.

    The pad widths are arithmetic on x.shape, which tracing (torch.onnx.export) and
    torch.export record as graph operations, so an exported model pads correctly at every
    input size, not just the example's. Always calls pad (a zero pad is cheap): a Python
    `if` on the size would be frozen into the graph at the example size.
    Reflection needs pad < side: with multiple 4, true for every side >= 3.
    """
    height, width = x.shape[-2], x.shape[-1]
    return F.pad(x, (0, (-width) % multiple, 0, (-height) % multiple), mode="reflect")


def _check_input(image: torch.Tensor) -> None:
    # Python checks on shapes would be frozen into (or break) a traced/exported graph:
    # check in eager mode only; exported models are fed by code that already checked.
    if torch.jit.is_tracing() or torch.compiler.is_compiling():
        return
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"expected a (B, 3, H, W) RGB batch, got shape {tuple(image.shape)}")
    height, width = image.shape[-2:]
    if min(height, width) < MIN_SIDE:
        raise StyleTransferError(
            f"The image is {width}x{height} pixels; the style network needs at least "
            f"{MIN_SIDE} on each side: use a larger image."
        )


def count_macs(model: nn.Module, height: int, width: int) -> int:
    """Multiply-accumulates of every convolution in one forward pass of a (1, 3, H, W) image.

    Counted with forward hooks on Conv2d and Blur modules, so it measures what actually runs
    (padding to a multiple of 4 included). Norms, activations and pads are left out: few
    MACs, though being memory-bound they take a fifth of lite's time on a CPU.
    """
    total = 0

    def hook(module: nn.Module, inputs, output: torch.Tensor) -> None:
        nonlocal total
        weight = module.weight if isinstance(module, nn.Conv2d) else module.kernel
        # Each output element sums (C_in / groups) * kH * kW products.
        total += output[:1].numel() * weight.shape[1] * weight.shape[2] * weight.shape[3]

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, Blur))]
    try:
        with torch.no_grad():
            device = next(model.parameters()).device
            model(torch.rand(1, 3, height, width, device=device))
    finally:
        for handle in handles:
            handle.remove()
    return total
