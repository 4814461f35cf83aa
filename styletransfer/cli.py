"""Command line: ``python -m styletransfer SUBCOMMAND``. Built on the same engine calls as
the app; defaults come from the engine's config dataclasses and dials (styletransfer/dials.py),
not from here, and so do the ranges the help shows."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from styletransfer import dials
from styletransfer.errors import StyleTransferError

# GatysConfig's fields that are not dials (gatys.DIALS and gatys.CHOICES give the others' help).
_GATYS_HELP = {
    "init": "start from 'content', 'noise' or an image path",
    "min_size": "long side of the coarsest scale",
    "pooling": "max or avg pooling in VGG16",
    "learning_rate": "Adam step size",
}


def add_dial(parser, dial: dials.Dial, *flags: str, default=..., help: str | None = None) -> None:
    """An option for a dial: --NAME (or ``flags``), its type, and help with its range and default
    (``default``: another, e.g. None for one that depends on other options; ``help``: its text)."""
    default = dial.default if default is ... else default
    shown = "" if default is None else f", default {default:g}"
    parser.add_argument(
        *(flags or ["--" + dial.name.replace("_", "-")]),
        type=int if dial.integer else float,
        default=default,
        help=f"{help or dial.help} ({dial.range_text()}{shown})",
    )


def add_choice(parser, choice: dials.Choice, *flags: str, help: str | None = None) -> None:
    """An option for a choice: --NAME (or ``flags``), its values, its default, and help that
    says what each value means (``help``: the text before them)."""
    parser.add_argument(
        *(flags or ["--" + choice.name.replace("_", "-")]),
        choices=choice.values,
        default=choice.default,
        help=f"{help or choice.help}: {choice.meanings()} (default {choice.default})",
    )


def _add_config_options(parser, defaults, helps: dict[str, str], *, set_defaults: bool = True) -> None:
    """One --option per config field named in ``helps``; type and default come from the config."""
    for name, text in helps.items():
        value = getattr(defaults, name)
        extra = {"default": value} if set_defaults else {}
        flag, words = "--" + name.replace("_", "-"), f"{text} (default {value!r})"
        if isinstance(value, bool):  # --x / --no-x: bool("False") would be True
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, help=words, **extra)
        else:
            parser.add_argument(flag, type=type(value), help=words, **extra)


def _add_gatys(subparsers) -> None:
    from styletransfer import gatys
    from styletransfer.gatys import GatysConfig

    defaults = GatysConfig()
    p = subparsers.add_parser("gatys", help="optimise an image to match a photo's content and paintings' style")
    p.add_argument("content", help="the photo")
    p.add_argument("styles", nargs="+", metavar="style", help="one or more paintings")
    p.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, .webp)")
    for dial in gatys.DIALS.values():
        add_dial(p, dial)
    for choice in gatys.CHOICES.values():
        add_choice(p, choice)
    _add_config_options(p, defaults, _GATYS_HELP)
    p.add_argument("--no-coarse-to-fine", action="store_true", help="optimise at the output size only")
    p.add_argument("--style-blend", type=float, nargs="+", help="one weight per painting (default equal)")
    p.add_argument("--content-layers", nargs="+", default=list(defaults.content_layers))
    p.add_argument("--style-layers", nargs="+", default=list(defaults.style_layers))
    p.add_argument("--style-layer-weights", type=float, nargs="+")
    p.add_argument(
        "--weights", help="VGG16 weights file (torchvision .pth/.safetensors); default: lookup order in the README"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_run_gatys)


def _run_gatys(args) -> int:
    from tqdm import tqdm

    from styletransfer import gatys
    from styletransfer.io import images
    from styletransfer.perceptual.vgg import VGG16Features, deepest

    config = gatys.GatysConfig(
        **{name: getattr(args, name) for name in (*gatys.DIALS, *gatys.CHOICES, *_GATYS_HELP)},
        coarse_to_fine=not args.no_coarse_to_fine,
        style_blend=args.style_blend,
        content_layers=args.content_layers,
        style_layers=args.style_layers,
        style_layer_weights=args.style_layer_weights,
    )
    output = Path(args.output)
    images.check_output_path(output)
    content = images.load_tensor(args.content)
    styles = [images.load_tensor(path) for path in args.styles]
    gatys.validate(content, styles, config)  # before the progress bar, so errors stay one line
    lossnet = None
    if args.weights:
        from styletransfer.perceptual import weights

        lossnet = VGG16Features(
            weights.load_vgg16_state_dict(args.weights),
            last_layer=deepest((*config.content_layers, *config.style_layers)),
            pooling=config.pooling,
        )
    result = None
    with tqdm(total=config.steps, unit="step", disable=args.quiet, dynamic_ncols=True) as bar:
        try:
            for event in gatys.iterate(content, styles, config, lossnet=lossnet):
                result = event.image
                bar.update(1)
                bar.set_postfix_str(
                    f"scale {event.scale + 1}/{event.num_scales} {event.size[1]}x{event.size[0]} "
                    f"content {event.losses['content']:.3g} style {event.losses['style']:.3g}"
                )
        except KeyboardInterrupt:
            if result is None:
                raise
            images.save_image(result, output)
            print(f"interrupted: saved the image so far to {output}", file=sys.stderr)
            return 130
    images.save_image(result, output)
    if not args.quiet:
        print(f"saved {output}", file=sys.stderr)
    return 0


def _add_weights(subparsers) -> None:
    p = subparsers.add_parser("weights", help="manage the VGG16 loss-network weights")
    p.add_argument("action", choices=["fetch", "verify", "info"])
    p.set_defaults(run=_run_weights)


def _run_weights(args) -> int:
    from styletransfer.perceptual import weights

    if args.action == "fetch":
        print(weights.fetch(progress=True))
    elif args.action == "verify":
        report = weights.verify()
        for key, value in report.items():
            print(f"{key}: {value}")
    else:
        for key, value in weights.info().items():
            print(f"{key}: {value}")
    return 0


def _add_zoo(subparsers) -> None:
    p = subparsers.add_parser("list", help="list the pretrained feed-forward models: NAME ARCH TITLE")
    p.add_argument("--folder", help="model folder (default: pretrained/)")
    p.set_defaults(run=_run_list)

    p = subparsers.add_parser(
        "stylize", help="stylize a photo in one pass: a pretrained model (-s) or any paintings (--painting)"
    )
    p.add_argument("content", help="the photo")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("-s", "--style", help="model name (see `list`), or a .safetensors path")
    which.add_argument(
        "--painting",
        nargs="+",
        metavar="PAINTING",
        help="any painting(s): the fast result, no model per painting (see --fast-method)",
    )
    add_choice(p, dials.ARCH)
    p.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, .webp)")
    p.add_argument(
        "--size",
        type=int,
        help=f"output long side in pixels (default: the photo's; with --painting {dials.PAINT_SIZE.range_text()})",
    )
    mix, texture = dials.STYLE_MIX, dials.TEXTURE_STRENGTH
    p.add_argument(
        "--strength",
        type=float,
        help=f"with a model, the {mix.label}: {mix.help} ({mix.range_text()}, default {mix.default:g}); "
        f"with --painting, the {texture.label}: {texture.help} ({texture.range_text()}, default {texture.default:g})",
    )
    p.add_argument("--keep-colors", action="store_true", help="keep the photo's colours")
    p.add_argument(
        "--painting-weights",
        type=float,
        nargs="+",
        metavar="W",
        help="with several --painting: one weight each (default equal)",
    )
    add_dial(p, dials.PAINTING_SCALE, help=f"with --painting: {dials.PAINTING_SCALE.help}")
    add_choice(p, dials.FAST_METHOD)
    p.add_argument("--hub-repo", help="Hugging Face Hub repo to look in when the model is not in pretrained/")
    p.set_defaults(run=_run_stylize)

    p = subparsers.add_parser("export", help="export a model to ONNX (float32 NCHW RGB in [0, 1], any size)")
    p.add_argument("name", help="model name, or a .safetensors path")
    add_choice(p, dials.ARCH)
    p.add_argument("--onnx", required=True, help="output .onnx file")
    p.add_argument("--hub-repo")
    p.set_defaults(run=_run_export)

    p = subparsers.add_parser("push", help="publish a model from pretrained/ to a Hugging Face Hub repo")
    p.add_argument("name")
    add_choice(p, dials.ARCH)
    p.add_argument("--repo", required=True, help="Hub model repo id, e.g. you/styles")
    p.set_defaults(run=_run_push)


def _run_list(args) -> int:
    from styletransfer.networks import zoo

    for card in zoo.available(args.folder):
        print(f"{card.name} {card.arch} {card.title}")
    return 0


def _run_stylize(args) -> int:
    from styletransfer import instant
    from styletransfer.io import images

    output = Path(args.output)
    images.check_output_path(output)
    if args.painting:
        return _run_any_painting(args, output)
    if (
        args.painting_weights
        or args.painting_scale != dials.PAINTING_SCALE.default
        or args.fast_method != dials.FAST_METHOD.default
    ):
        raise StyleTransferError("--painting-weights, --painting-scale and --fast-method go with --painting")
    strength = dials.STYLE_MIX.default if args.strength is None else args.strength
    image = instant.stylize(
        args.content,
        args.style,
        args.arch,
        size=args.size,
        strength=strength,
        keep_colors=args.keep_colors,
        hub_repo=args.hub_repo,
    )
    images.save_image(image, output)
    return 0


def _run_any_painting(args, output: Path) -> int:
    from styletransfer import any_painting, universal
    from styletransfer.io import images

    if args.painting_weights and len(args.painting_weights) != len(args.painting):
        raise StyleTransferError(f"{len(args.painting_weights)} --painting-weights for {len(args.painting)} paintings")
    settings = universal.Settings(
        strength=dials.TEXTURE_STRENGTH.default if args.strength is None else args.strength,
        keep_colors=args.keep_colors,
        painting_scale=args.painting_scale,
        weights=tuple(args.painting_weights) if args.painting_weights else None,
    )
    images.save_image(any_painting.fast(args.content, args.painting, args.size, settings, args.fast_method), output)
    return 0


def _run_export(args) -> int:
    from styletransfer.networks import load_network, onnx

    if Path(args.onnx).suffix.lower() != ".onnx":
        raise StyleTransferError(f"--onnx must name a .onnx file, got {args.onnx}")
    network = load_network(args.name, args.arch, hub_repo=args.hub_repo)
    print(onnx.export_onnx(network.module, args.onnx))
    return 0


def _run_push(args) -> int:
    from styletransfer.networks import zoo

    print(zoo.push_to_hub(args.name, args.arch, args.repo))
    return 0


def _add_video(subparsers) -> None:
    from styletransfer.networks import BACKENDS, network

    p = subparsers.add_parser("video", help="stylize a video file with a pretrained model (H.264 .mp4, audio kept)")
    p.add_argument("input", help="the video (.mp4, .mov, .mkv, .webm, ...)")
    p.add_argument("-s", "--style", required=True, help="model name (see `list`), or a .safetensors path")
    add_choice(p, dials.VIDEO_ARCH)
    p.add_argument("-o", "--output", required=True, help="output video (.mp4)")
    add_choice(p, dials.TEMPORAL)
    add_dial(p, dials.STYLE_MIX, help=f"the {dials.STYLE_MIX.label}: 0 = the video, 1 = the network's painting")
    p.add_argument("--keep-colors", action="store_true", help="keep the video's colours")
    add_dial(p, dials.VIDEO_SCALE, help="output size relative to the input")
    p.add_argument(
        "--backend",
        default="auto",
        choices=BACKENDS,
        help="where the network runs (default auto: torch on a GPU when there is one, else onnxruntime)",
    )
    p.add_argument(
        "--batch-size", type=int, help=f"frames per network call (default {network.GPU_BATCH} on a GPU, 1 on a CPU)"
    )
    p.add_argument("--hub-repo", help="Hugging Face Hub repo to look in when the model is not in pretrained/")
    p.add_argument("--models-folder", help=argparse.SUPPRESS)  # tests: a folder of models other than pretrained/
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_run_video)


def _run_video(args) -> int:
    import signal

    from tqdm import tqdm

    from styletransfer.networks import load_network
    from styletransfer.video import stylize

    output = Path(args.output)
    # Bad input fails here, in one line, before the model loads.
    info = stylize.check(args.input, output, strength=args.strength, scale=args.scale)
    network = load_network(
        args.style, args.arch, backend=args.backend, folder=args.models_folder, hub_repo=args.hub_repo
    )

    # The first Ctrl-C finishes the file with the frames done so far; a second one aborts.
    interrupted = []

    def on_sigint(signum, frame):
        interrupted.append(True)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        with tqdm(total=info.frames, unit="frame", disable=args.quiet, dynamic_ncols=True) as bar:

            def progress(event):
                bar.total = event.total_frames
                bar.update(event.frames_done - bar.n)

            result = stylize.stylize_video(
                args.input,
                output,
                network,
                strength=args.strength,
                keep_colors=args.keep_colors,
                **stylize.temporal_options(args.temporal),
                scale=args.scale,
                callback=progress,
                should_stop=lambda: bool(interrupted),
                batch_size=args.batch_size,
            )
    finally:
        signal.signal(signal.SIGINT, previous)
    if result.stopped:
        print(f"interrupted: saved the first {result.frames} frames to {output}", file=sys.stderr)
        return 130
    if not args.quiet:
        print(f"saved {output}", file=sys.stderr)
    return 0


_TRAIN_HELP = {
    "steps": "training steps",
    "batch_size": "images per step, over all processes",
    "crop_size": "training crop side in pixels",
    "lr": "Adam learning rate",
    "content_weight": "weight of the content loss",
    "style_weight": "style strength (1 = balanced as in gatys)",
    "tv_weight": "total-variation weight",
    "content_layer": "VGG16 layer for the content loss",
    "style_size": "long side the painting is resized to (smaller = finer brush strokes)",
    "temporal_weight": "compound regularisation for steady video (0 = off)",
    "temporal_from": "apply compound regularisation and the shift loss only after this step (a stable fine-tune at the end)",
    "shift_weight": "shift equivariance for steady video: the output of the photo moved 1-3 px must move alike (0 = off)",
    "temporal_flow": "largest smooth-flow displacement in pixels",
    "temporal_shift": "largest global shift in pixels",
    "temporal_noise": "noise std added to the moved photo",
    "average_decay": "keep a running average of the weights with this decay per step (0.998 ~ the last 500 steps), used as the result (0 = off)",
    "teacher": "trained model to distil (checkpoint.pt or .safetensors)",
    "distill_weight": "weight of the distillation loss",
    "teacher_grid_average": "distil the teacher averaged over its pixel grid (steadier on slow pans)",
    "reconstruct_weight": "L1 to the photo itself (with content and style 0: an autoencoder to --init from)",
    "period_weight": "penalise the upsamplings' period-4 grid in the output (free at inference, unlike --deperiod)",
    "init": "start from this trained model (same arch): fine-tunes another style's network",
    "seed": "random seed (weights, crops, order)",
    "checkpoint_every": "steps between checkpoints",
    "log_every": "steps between rows of losses.csv",
    "device": "cpu, cuda or auto",
    "amp": "mixed precision on CUDA: off, bf16 or fp16",
    "num_workers": "processes decoding photos",
}


# --add-style: the settings the new row inherits from the base model: training/adding.py.
ADD_STYLE_STEPS = 300


def _add_train(subparsers) -> None:
    from styletransfer.training import TrainConfig

    defaults = TrainConfig()
    # Options left out are not set at all (SUPPRESS), so --resume can tell them from defaults.
    p = subparsers.add_parser(
        "train",
        help="train a feed-forward style network on a folder of photos",
        argument_default=argparse.SUPPRESS,
    )
    p.add_argument("--style", help="the painting (required unless --resume or --styles)")
    p.add_argument(
        "--styles",
        nargs="+",
        metavar="PAINTING",
        help="several paintings: one network with a scale-and-shift per painting (conditional instance norm)",
    )
    p.add_argument("--content-dir", help="folder of training photos, searched recursively (required unless --resume)")
    p.add_argument("--arch", choices=dials.ARCH.values, help=f"network (default {defaults.arch})")
    p.add_argument("--out", required=True, help="run folder: checkpoint.pt, losses.csv, losses.png, config.json")
    p.add_argument(
        "--resume", action="store_true", help="continue the run in --out (its saved settings, unless given here)"
    )
    _add_config_options(p, defaults, _TRAIN_HELP, set_defaults=False)  # unset: --resume keeps the run's own
    p.add_argument(
        "--crop-scale",
        type=float,
        nargs=2,
        metavar=("LO", "HI"),
        help=f"crop covers this fraction of the shorter side (default {defaults.crop_scale})",
    )
    p.add_argument(
        "--style-layers", nargs="+", help=f"VGG16 layers for the style loss (default {' '.join(defaults.style_layers)})"
    )
    p.add_argument(
        "--add-style",
        dest="add_style",
        metavar="PAINTING",
        help="add this painting to a trained model (--to): fits only its scale-and-shift, the convolutions "
        "stay; the grown model is written to OUT/model/. Loss settings, sizes and photos default to the "
        f"model's own; steps to {ADD_STYLE_STEPS}",
    )
    p.add_argument(
        "--to",
        dest="add_to",
        metavar="MODEL",
        help="the model --add-style adds to (.safetensors with its card, or checkpoint.pt)",
    )
    p.add_argument("--name", help="the added style's name (default: the painting's file name)")
    p.add_argument(
        "--exclude",
        nargs="+",
        metavar="PATTERN",
        help="photo file names (glob) kept out of training, e.g. held-out test photos",
    )
    p.add_argument("--no-blur", dest="blur", action="store_false", help="plain strided downsampling")
    p.add_argument(
        "--deperiod",
        action="store_true",
        help="train through a fixed filter that removes the upsampling's period-4 pattern (a fine cross-hatch)",
    )
    p.add_argument("--channels-last", action="store_true", help="channels-last memory layout (GPUs)")
    p.add_argument("--weights", help="VGG16 weights file; default: lookup order in the README")
    p.add_argument("--lossnet", choices=["pretrained", "random"], help=argparse.SUPPRESS)  # tests: untrained VGG
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_run_train)


def _run_train(args) -> int:
    import dataclasses
    import os

    from tqdm import tqdm

    from styletransfer import training
    from styletransfer.perceptual.vgg import VGG16Features, deepest, random_vgg16
    from styletransfer.training import adding

    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(training.TrainConfig) if hasattr(args, f.name)}
    if hasattr(args, "add_style") != hasattr(args, "add_to"):
        raise StyleTransferError("--add-style PAINTING and --to MODEL go together")
    base = None  # the card of the model --add-style adds to: read once, for its settings and its styles
    if hasattr(args, "add_style"):
        given["style"] = args.add_style
        if not getattr(args, "resume", False):
            base = _base_card(Path(args.add_to))
            given = {**adding.base_settings(base), "steps": ADD_STYLE_STEPS, **given}
    if getattr(args, "resume", False):
        config = training.config_from_checkpoint(Path(args.out) / training.CHECKPOINT, **given)
    else:
        if "style" not in given and "styles" not in given:
            raise StyleTransferError("--style (or --styles) is required to start a run (or pass --resume)")
        if "content_dir" not in given:
            raise StyleTransferError("--content-dir is required to start a run (or pass --resume)")
        config = training.TrainConfig(**given)
    if config.add_to and base is None:  # a resumed --add-style run: its checkpoint names the model
        base = _base_card(Path(config.add_to))
    layers = (config.content_layer, *config.style_layers)
    lossnet = None
    if getattr(args, "lossnet", "pretrained") == "random":
        lossnet = random_vgg16(layers)
    elif getattr(args, "weights", None):
        from styletransfer.perceptual import weights

        lossnet = VGG16Features(weights.load_vgg16_state_dict(args.weights), last_layer=deepest(layers))
    quiet = getattr(args, "quiet", False) or int(os.environ.get("RANK", "0")) != 0
    with tqdm(total=config.steps, unit="step", disable=quiet, dynamic_ncols=True) as bar:

        def progress(event):
            bar.n = event.step
            bar.set_postfix_str(
                f"content {event.losses['content']:.3g} style {event.losses['style']:.3g} total {event.losses['total']:.3g}",
                refresh=False,
            )
            bar.refresh()

        # The grown model's card first: a clash of names fails now, not after the training.
        grown = _grown_card(base, config, getattr(args, "name", None)) if base is not None else None
        path = training.train(
            config, args.out, resume=getattr(args, "resume", False), callback=progress, lossnet=lossnet
        )
    if not quiet:
        print(f"saved {path}", file=sys.stderr)
    if grown is not None and int(os.environ.get("RANK", "0")) == 0:
        from styletransfer.networks import read_model, zoo

        # A model folder of its own (the run folder's config.json is not a model card).
        print(zoo.save(read_model(path)[0], grown, Path(args.out) / "model"))
    return 0


def _base_card(source: Path):
    """The card of the model --add-style adds to: a published model's own, or a training
    checkpoint's, whose several styles are named by their paintings' files."""
    import dataclasses

    from styletransfer.networks import read_model, zoo
    from styletransfer.training import adding

    if source.suffix == ".safetensors":
        return zoo.ModelCard.from_json(source.with_suffix(".json"))
    net, card = read_model(source)
    if net.config.styles == 1:
        return card
    paintings = card.train_config.get("styles") or []
    if len(paintings) != net.config.styles:
        raise StyleTransferError(
            f"{source} does not say which paintings its {net.config.styles} styles are; "
            "add to its published model (.safetensors with its card) instead"
        )
    return dataclasses.replace(card, name="zoo", styles=[adding.style_entry(Path(p)) for p in paintings])


def _grown_card(base, config, name: str | None):
    """The card of the model --add-style makes: the base model's styles, then the new painting."""
    from styletransfer.networks import zoo
    from styletransfer.training import adding

    return zoo.with_added_style(base, adding.style_entry(Path(config.style), name))


class _OneLineParser(argparse.ArgumentParser):
    """Usage mistakes end in one line on stderr, like every other bad input."""

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="python -m styletransfer", description="Neural style transfer.")
    subparsers = parser.add_subparsers(required=True, metavar="COMMAND", parser_class=_OneLineParser)
    _add_gatys(subparsers)
    _add_weights(subparsers)
    _add_zoo(subparsers)
    _add_train(subparsers)
    _add_video(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except StyleTransferError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
