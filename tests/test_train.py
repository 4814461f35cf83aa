"""Training feed-forward networks: losses fall, resume is exact, bad photos are skipped,
checkpoints rebuild the model, compound regularisation warps correctly, DDP and the CLI run.

Tiny settings throughout (32 px crops, batch 2, an untrained VGG16) so the file runs in
well under a minute on a 2-core CPU.
"""

import csv
import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from styletransfer import training
from styletransfer.errors import StyleTransferError
from styletransfer.networks import load_network, read_model
from styletransfer.networks.transformer import TransformerConfig, build
from styletransfer.perceptual.vgg import random_vgg16
from styletransfer.training import data as training_data
from styletransfer.training import log, regularisation

REPO = Path(__file__).resolve().parent.parent
PHOTOS = ("bsds500_100007.jpg", "bsds500_100039.jpg", "skimage_coffee.jpg")


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny inputs: threads cost more than they save


@pytest.fixture
def photos(shared_data, tmp_path) -> Path:
    """A few shared photos copied into a temporary folder (never into the repo)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in PHOTOS:
        shutil.copy(shared_data / "photos" / name, folder / name)
    return folder


@pytest.fixture
def painting(shared_data) -> Path:
    return shared_data / "styles" / "starry_night.jpg"


@pytest.fixture(scope="module")
def vgg():
    return random_vgg16(training.TrainConfig().style_layers)


def tiny(painting, photos, **overrides) -> training.TrainConfig:
    settings = dict(
        style=str(painting),
        content_dir=str(photos),
        arch="lite",
        steps=4,
        batch_size=2,
        crop_size=32,
        style_size=64,
        log_every=1,
        checkpoint_every=2,
        device="cpu",
    )
    return training.TrainConfig(**{**settings, **overrides})


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ------------------------------------------------------------------------- training


def test_a_few_steps_lower_the_loss(painting, photos, tmp_path, vgg):
    for extra in list(photos.iterdir())[1:]:
        extra.unlink()  # one photo: the network can fit it
    totals = []
    config = tiny(painting, photos, steps=20, lr=1e-2, checkpoint_every=100)
    training.train(config, tmp_path / "run", lossnet=vgg, callback=lambda e: totals.append(e.losses["total"]))
    assert len(totals) == 20
    assert sum(totals[-3:]) < 0.7 * sum(totals[:3])


def test_resume_is_bit_identical_to_training_straight(painting, photos, tmp_path, vgg):
    # Compound regularisation on: its random flows and noise must also replay exactly.
    config = tiny(painting, photos, steps=4, temporal_weight=1.0)
    straight = training.train(config, tmp_path / "straight", lossnet=vgg)
    with pytest.raises(StyleTransferError, match="already exists"):
        training.train(config, tmp_path / "straight", lossnet=vgg)

    split = tmp_path / "split"
    training.train(dataclasses.replace(config, steps=2), split, lossnet=vgg)
    training.train(config, split, lossnet=vgg, resume=True)

    a = torch.load(straight, weights_only=True)
    b = torch.load(split / training.CHECKPOINT, weights_only=True)
    assert a["step"] == b["step"] == 4
    assert a["model"].keys() == b["model"].keys()
    for name in a["model"]:
        assert torch.equal(a["model"][name], b["model"][name]), name
    assert a["optimizer"]["state"][0]["step"] == b["optimizer"]["state"][0]["step"] == 4
    assert [r["total"] for r in read_csv(straight.parent / "losses.csv")] == [
        r["total"] for r in read_csv(split / "losses.csv")
    ]


def test_compound_regularisation_can_be_a_fine_tune_at_the_end_of_a_run(painting, photos, tmp_path, vgg):
    # temporal_from=2: steps 1-2 train without the second pass, steps 3-4 with it. A long run
    # may re-plan when the fine-tune starts and how strong it is; any other change of settings
    # is still refused.
    run = tmp_path / "run"
    training.train(tiny(painting, photos, steps=2, temporal_weight=1.0, temporal_from=3), run, lossnet=vgg)
    training.train(tiny(painting, photos, steps=4, temporal_weight=3.0, temporal_from=2), run, lossnet=vgg, resume=True)
    temporal = [float(r["temporal"]) for r in read_csv(run / "losses.csv")]
    assert temporal[:2] == [0, 0] and min(temporal[2:]) > 0
    with pytest.raises(StyleTransferError, match=r"settings differ from the saved run \(style_weight\)"):
        training.train(
            tiny(painting, photos, steps=5, temporal_weight=3.0, temporal_from=2, style_weight=7.0),
            run,
            lossnet=vgg,
            resume=True,
        )
    with pytest.raises(StyleTransferError, match="temporal_from must be >= 0"):
        tiny(painting, photos, temporal_from=-1)


def test_a_running_average_of_the_weights_is_what_the_run_is_used_as(painting, photos, tmp_path, vgg):
    config = tiny(painting, photos, steps=4, average_decay=0.5)
    straight = training.train(config, tmp_path / "straight", lossnet=vgg)
    split = tmp_path / "split"
    training.train(dataclasses.replace(config, steps=2), split, lossnet=vgg)
    training.train(config, split, lossnet=vgg, resume=True)
    a = torch.load(straight, weights_only=True)
    b = torch.load(split / training.CHECKPOINT, weights_only=True)
    assert a["average"].keys() == b["average"].keys() and a["average"]
    for name in a["average"]:  # a resume continues the average exactly
        assert torch.equal(a["average"][name], b["average"][name]), name
    assert any(not torch.equal(a["average"][k], a["model"][k]) for k in a["average"])  # it lags the weights
    used = read_model(straight)[0].state_dict()
    assert all(torch.equal(used[k], a["average"][k]) for k in a["average"])

    # A run that kept none begins one when a resume asks for it, at that step's weights.
    plain = tmp_path / "plain"
    training.train(tiny(painting, photos, steps=2), plain, lossnet=vgg)
    before = torch.load(plain / training.CHECKPOINT, weights_only=True)
    assert "average" not in before
    training.train(tiny(painting, photos, steps=3, average_decay=0.5), plain, lossnet=vgg, resume=True)
    after = torch.load(plain / training.CHECKPOINT, weights_only=True)
    for name, mean in after["average"].items():
        torch.testing.assert_close(mean, (before["model"][name] + after["model"][name]) / 2)
    with pytest.raises(StyleTransferError, match="average decay"):
        tiny(painting, photos, average_decay=1.0)


def test_a_time_limit_ends_the_run_early_with_a_checkpoint_to_resume_from(painting, photos, tmp_path, vgg):
    config = tiny(painting, photos, steps=6, log_every=2, checkpoint_every=100)
    path = training.train(config, tmp_path / "run", lossnet=vgg, stop_after=0)  # out of time at once
    assert torch.load(path, weights_only=True)["step"] == 2  # the first log step, checkpointed there
    assert [r["step"] for r in read_csv(tmp_path / "run" / "losses.csv")] == ["2"]
    training.train(config, tmp_path / "run", lossnet=vgg, resume=True, stop_after=3600)
    assert torch.load(path, weights_only=True)["step"] == 6


def test_loader_processes_give_the_same_training(painting, photos, tmp_path, vgg):
    inline = training.train(tiny(painting, photos, steps=2), tmp_path / "inline", lossnet=vgg)
    workers = training.train(tiny(painting, photos, steps=2, num_workers=2), tmp_path / "workers", lossnet=vgg)
    a = torch.load(inline, weights_only=True)["model"]
    b = torch.load(workers, weights_only=True)["model"]
    assert all(torch.equal(a[name], b[name]) for name in a)


def test_resume_refuses_different_settings(painting, photos, tmp_path, vgg):
    run = tmp_path / "run"
    training.train(tiny(painting, photos, steps=2), run, lossnet=vgg)
    with pytest.raises(StyleTransferError, match="style_weight"):
        training.train(tiny(painting, photos, steps=4, style_weight=2.0), run, lossnet=vgg, resume=True)
    with pytest.raises(StyleTransferError, match="does not exist"):
        training.train(tiny(painting, photos), tmp_path / "nothing", lossnet=vgg, resume=True)


def test_unreadable_photos_are_skipped_with_a_warning(painting, photos, tmp_path, vgg):
    (photos / "empty.jpg").write_bytes(b"")
    whole = (photos / PHOTOS[0]).read_bytes()
    (photos / "truncated.jpg").write_bytes(whole[: len(whole) // 3])
    # 5 files, 3 steps of 2: the first epoch's shuffled order visits every file.
    with pytest.warns(UserWarning) as caught:
        checkpoint = training.train(tiny(painting, photos, steps=3), tmp_path / "run", lossnet=vgg)
    messages = " ".join(str(w.message) for w in caught)
    assert "empty.jpg" in messages and "truncated.jpg" in messages
    assert torch.load(checkpoint, weights_only=True)["step"] == 3


def test_checkpoint_loads_safely_and_rebuilds_the_model(painting, photos, tmp_path, vgg):
    config = tiny(painting, photos, arch="full", steps=2, blur=False)
    checkpoint = training.train(config, tmp_path / "run", lossnet=vgg)
    ckpt = torch.load(checkpoint, weights_only=True)  # plain types and tensors only
    assert ckpt["train_config"] == dataclasses.asdict(config)
    net = build(TransformerConfig(**ckpt["model_config"]))
    assert net.config == TransformerConfig("full", blur=False)
    net.load_state_dict(ckpt["model"], strict=True)
    assert not any(key.startswith(("module.", "_orig_mod.")) for key in ckpt["model"])
    out = load_network(checkpoint).module(torch.rand(1, 3, 24, 24))
    assert out.shape == (1, 3, 24, 24)


def test_writes_csv_plot_and_config(painting, photos, tmp_path, vgg):
    run = tmp_path / "run"
    training.train(tiny(painting, photos, steps=4, log_every=2), run, lossnet=vgg)
    rows = read_csv(run / "losses.csv")
    assert list(rows[0]) == list(log.CSV_COLUMNS)
    assert [int(r["step"]) for r in rows] == [2, 4]
    assert all(float(r["total"]) > 0 for r in rows)
    assert all(float(r["temporal"]) == 0 for r in rows)  # off by default
    with Image.open(run / "losses.png") as plot:
        assert plot.size == (720, 400)
        assert len(plot.getcolors(1 << 16)) > 2  # axes and lines, not a blank canvas
    saved = json.loads((run / "config.json").read_text())
    assert saved["train_config"]["steps"] == 4 and saved["model_config"]["arch"] == "lite"
    assert not list(run.glob(".*"))  # no temporary files left behind


def test_distillation_pulls_the_student_towards_the_teacher(painting, photos, tmp_path, vgg):
    teacher = training.train(tiny(painting, photos, arch="full", steps=1), tmp_path / "teacher", lossnet=vgg)
    seen = []
    config = tiny(painting, photos, steps=2, teacher=str(teacher), distill_weight=5.0)
    training.train(config, tmp_path / "student", lossnet=vgg, callback=lambda e: seen.append(e.losses["distill"]))
    assert len(seen) == 2 and all(d > 0 for d in seen)


def test_a_grid_averaged_teacher_gives_what_the_steady_video_mode_paints(painting, photos, tmp_path, vgg):
    """teacher_grid_average: the target is the teacher's painting averaged over its pixel grid,
    the same numbers Network.stylize(grid_average=True) gives, and a run distils it."""
    teacher_ckpt = training.train(tiny(painting, photos, steps=1), tmp_path / "teacher", lossnet=vgg)
    teacher = load_network(teacher_ckpt)
    photo = torch.rand(2, 3, 20, 28)
    target = training.loop._teacher_output(teacher.module, photo, None, grid_average=True)
    frames = (photo.permute(0, 2, 3, 1).numpy() * 255).round().astype("uint8")
    steady = torch.from_numpy(teacher.stylize(frames, grid_average=True)).permute(0, 3, 1, 2).float() / 255
    plain = training.loop._teacher_output(teacher.module, photo, None, grid_average=False)
    assert (target - steady).abs().max() < 3 / 255  # the frame path rounds to 8 bits in and out
    assert (target - plain).abs().mean() > 1e-3  # and it is not the plain painting
    seen = []
    config = tiny(painting, photos, steps=2, teacher=str(teacher_ckpt), teacher_grid_average=True)
    training.train(config, tmp_path / "student", lossnet=vgg, callback=lambda e: seen.append(e.losses["distill"]))
    assert len(seen) == 2 and all(d > 0 for d in seen)


def test_pure_distillation_needs_no_vgg_pass(painting, photos, tmp_path, vgg):
    teacher = training.train(tiny(painting, photos, arch="full", steps=1), tmp_path / "teacher", lossnet=vgg)
    passes = []
    hook = vgg.register_forward_hook(lambda *_: passes.append(1))
    try:
        seen = []
        config = tiny(painting, photos, steps=3, teacher=str(teacher), content_weight=0, style_weight=0, lr=1e-2)
        training.train(config, tmp_path / "student", lossnet=vgg, callback=lambda e: seen.append(e.losses))
    finally:
        hook.remove()
    assert passes == []  # not even the painting's Grams: the perceptual loss is never built
    assert [e["style"] for e in seen] == [0, 0, 0] and seen[-1]["distill"] < seen[0]["distill"]
    assert seen[-1]["total"] == pytest.approx(seen[-1]["distill"])


def test_the_period_loss_sees_only_a_period_4_grid():
    y, x = torch.meshgrid(torch.arange(64.0), torch.arange(80.0), indexing="ij")
    smooth = (0.3 + 0.005 * x + 0.003 * y).expand(1, 3, 64, 80)  # a ramp: no grid
    grid = smooth + 0.02 * ((x % 4 == 0) & (y % 4 == 0)).float()  # one pixel in 16 lifted
    assert training.loop.period_loss(smooth) < 1e-6
    assert training.loop.period_loss(grid) > 0.002


def test_the_period_loss_trains_the_grid_away(painting, photos, tmp_path, vgg):
    seen = []
    config = tiny(painting, photos, steps=6, content_weight=0, style_weight=0, period_weight=100.0, lr=1e-2)
    training.train(config, tmp_path / "run", lossnet=vgg, callback=lambda e: seen.append(e.losses))
    assert seen[0]["period"] > 0 and seen[-1]["period"] < 0.5 * seen[0]["period"]
    assert seen[-1]["total"] == pytest.approx(100.0 * seen[-1]["period"], rel=1e-5)  # nothing else is on


def test_init_starts_from_a_trained_model(painting, photos, tmp_path, vgg):
    first = training.train(tiny(painting, photos, steps=2, lr=1e-2), tmp_path / "first", lossnet=vgg)
    trained = torch.load(first, weights_only=True)["model"]
    # lr ~0: after one step the weights are still the init's, not the seed's random ones.
    second = training.train(
        tiny(painting, photos, steps=1, lr=1e-12, init=str(first), seed=5), tmp_path / "second", lossnet=vgg
    )
    tuned = torch.load(second, weights_only=True)["model"]
    assert all(torch.allclose(trained[k], tuned[k], atol=1e-6) for k in trained)
    with pytest.raises(StyleTransferError, match="lite network"):
        training.train(tiny(painting, photos, arch="full", init=str(first)), tmp_path / "third", lossnet=vgg)


def _two_style_lite_zoo(folder):
    """A saved two-style lite network (night, wave) with random weights: (network, its file)."""
    from styletransfer.networks import zoo

    torch.manual_seed(0)
    base = build(TransformerConfig(arch="lite")).widen(2)
    with torch.no_grad():
        for p in base.parameters():
            p.add_(0.1 * torch.randn_like(p))
    entries = [{"name": "night", "title": "Night"}, {"name": "wave", "title": "Wave"}]
    return base, zoo.save(base, zoo.ModelCard(name="zoo", arch="lite", styles=entries), folder)


def test_an_added_painting_can_start_from_a_given_one_style_network(painting, photos, tmp_path, vgg):
    """add_to with init (the learn job's predicted start): the new row starts as the init's norms."""
    from styletransfer.networks import zoo

    base, model = _two_style_lite_zoo(tmp_path / "zoo")
    start = base.select(1)
    with torch.no_grad():
        for p in start.parameters():
            p.mul_(1.5)  # rows of its own, unlike the mean the new row starts from otherwise
    init = zoo.save(start, zoo.ModelCard(name="start", arch="lite"), tmp_path / "start")
    added = training.train(
        tiny(painting, photos, steps=1, lr=1e-12, add_to=str(model), init=str(init)), tmp_path / "run", lossnet=vgg
    )
    grown = read_model(added)[0].state_dict()
    for name, value in read_model(init)[0].state_dict().items():
        if grown[name].ndim == 2:
            torch.testing.assert_close(grown[name][-1], value.float(), atol=1e-4, rtol=0)
            torch.testing.assert_close(grown[name][:2], base.state_dict()[name].half().float())
    full = zoo.save(build(TransformerConfig(arch="full")), zoo.ModelCard(name="other", arch="full"), tmp_path / "full")
    with pytest.raises(StyleTransferError, match="must be a one-style lite network"):
        training.train(tiny(painting, photos, add_to=str(model), init=str(full)), tmp_path / "wrong", lossnet=vgg)


def test_excluded_photos_are_never_trained_on(painting, photos):
    names = [p.name for p in training_data.list_images(photos, exclude=("skimage_*",))]
    assert names == sorted(PHOTOS[:2])
    with pytest.raises(StyleTransferError, match="no images"):
        training_data.list_images(photos, exclude=("*.jpg",))


def test_bad_settings_are_one_line_errors(painting, photos, tmp_path, vgg):
    with pytest.raises(StyleTransferError, match="^network must be one of full, lite; got 'huge'$"):
        tiny(painting, photos, arch="huge")
    with pytest.raises(StyleTransferError, match="layer"):
        tiny(painting, photos, content_layer="conv9_9")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StyleTransferError, match="no images"):
        training.train(tiny(painting, tmp_path / "empty"), tmp_path / "run", lossnet=vgg)


# ----------------------------------------------------------------------------- data


def test_batches_are_reproducible_and_ranks_split_them(painting, photos):
    config = tiny(painting, photos, batch_size=4)
    files = training_data.list_images(photos)
    data = training_data.StepBatches(files, config)
    assert data[3].shape == (4, 3, 32, 32)
    assert torch.equal(data[3], training_data.StepBatches(files, config)[3])
    assert not torch.equal(data[3], data[4])
    halves = [training_data.StepBatches(files, config, rank, 2)[3] for rank in (0, 1)]
    assert torch.equal(torch.cat(halves), data[3])


def test_random_crop_flips_and_scales():
    photo = torch.arange(40 * 60, dtype=torch.float32).view(1, 1, 40, 60).expand(1, 3, 40, 60) / 2400
    whole = training_data.random_crop(photo, 40, (1.0, 1.0), [0.0, 0.0, 0.0, 0.9])
    assert torch.allclose(whole, photo[..., :40, :40])
    mirrored = training_data.random_crop(photo, 40, (1.0, 1.0), [0.0, 0.0, 0.0, 0.1])
    assert torch.equal(mirrored, whole.flip(-1))
    assert training_data.random_crop(photo, 16, (0.5, 0.5), [0.0, 0.99, 0.99, 0.9]).shape == (1, 3, 16, 16)


# --------------------------------------------------------- compound regularisation


def test_warp_with_zero_flow_is_identity():
    image = torch.rand(2, 3, 13, 17)
    assert torch.allclose(regularisation.warp(image, torch.zeros(2, 2, 13, 17)), image, atol=1e-6)


@pytest.mark.parametrize("dx, dy", [(2, 0), (0, -3), (1, 2)])
def test_integer_shift_equals_roll_away_from_borders(dx, dy):
    image = torch.rand(1, 3, 16, 20)
    flow = torch.zeros(1, 2, 16, 20)
    flow[:, 0], flow[:, 1] = dx, dy
    moved = regularisation.warp(image, flow)
    rolled = torch.roll(image, shifts=(-dy, -dx), dims=(-2, -1))
    inner = (..., slice(3, -3), slice(3, -3))
    assert torch.allclose(moved[inner], rolled[inner], atol=1e-5)


def test_random_flow_is_smooth_and_bounded():
    g = torch.Generator().manual_seed(0)
    flow = regularisation.random_flow(3, 32, 48, magnitude=2.0, shift=0, generator=g)
    assert flow.shape == (3, 2, 32, 48)
    assert flow.abs().max() <= 2.0 * 1.3  # bicubic overshoot is small
    assert (flow[..., 1:] - flow[..., :-1]).abs().max() < 0.5  # neighbours move alike
    shifted = regularisation.random_flow(3, 32, 48, magnitude=0.0, shift=3, generator=g)
    assert torch.equal(shifted, shifted.round()) and shifted.abs().max() <= 3


def test_compound_loss_is_zero_for_a_network_that_commutes_with_warps():
    # A per-pixel affine colour map commutes with bilinear warping (its weights sum to 1),
    # so without noise its compound loss is zero; an unwarped second term is not.
    mix = torch.tensor([[0.5, 0.2, 0.1], [0.0, 0.7, 0.1], [0.3, 0.0, 0.4]])

    def net(x):
        return torch.einsum("oc,bchw->bohw", mix, x) + 0.1

    photo = torch.rand(2, 3, 24, 24)
    flow = regularisation.random_flow(2, 24, 24, 2.0, 2, torch.Generator().manual_seed(1))
    moved = regularisation.moved_photo(photo, flow, torch.zeros_like(photo))
    assert regularisation.compound_loss(net(photo), net(moved), flow) < 1e-10
    assert regularisation.compound_loss(net(photo), net(photo), flow) > 1e-3


def test_shift_loss_is_zero_for_a_shift_equivariant_network_and_not_for_a_grid_stamping_one():
    # Any convolution is equivariant to whole-pixel shifts away from the edges; a network that
    # adds a pattern fixed to the pixel grid (what nearest upsamplings stamp) is not.
    photo = torch.rand(4, 3, 48, 48)
    shifts = regularisation.random_shifts(4, torch.Generator().manual_seed(0))
    assert all(0 <= dy < 4 and 0 <= dx < 4 and (dy, dx) != (0, 0) for dy, dx in shifts)
    moved = regularisation.shifted_photo(photo, shifts)
    assert torch.equal(moved[0], photo[0].roll(shifts[0], dims=(-2, -1)))
    conv = torch.nn.Conv2d(3, 3, 5, padding=2, padding_mode="reflect")
    with torch.no_grad():
        assert regularisation.shift_loss(conv(photo), conv(moved), shifts) < 1e-10
        grid = torch.zeros(1, 1, 48, 48)
        grid[..., ::4, ::4] = 0.5
        stamp = lambda x: conv(x) + grid  # noqa: E731
        assert regularisation.shift_loss(stamp(photo), stamp(moved), shifts) > 1e-3


def test_shift_equivariance_trains_on_the_fine_tunes_schedule(painting, photos, tmp_path, vgg):
    # shift_weight follows temporal_from, and a resumed run may re-plan it (a stable fine-tune).
    run = tmp_path / "run"
    training.train(tiny(painting, photos, steps=2, temporal_from=2, shift_weight=5.0), run, lossnet=vgg)
    training.train(tiny(painting, photos, steps=4, temporal_from=2, shift_weight=50.0), run, lossnet=vgg, resume=True)
    rows = read_csv(run / "losses.csv")
    shift = [float(r["shift"]) for r in rows]
    assert shift[:2] == [0, 0] and min(shift[2:]) > 0
    assert [float(r["temporal"]) for r in rows] == [0] * 4  # the compound term stays off at weight 0
    with pytest.raises(StyleTransferError, match="loss weights must be >= 0"):
        tiny(painting, photos, shift_weight=-1.0)


# ------------------------------------------------------------- processes and the CLI


def run_module(args, cwd, module=("-m", "styletransfer")):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, *module, *map(str, args)]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


TINY_ARGS = [
    "--arch",
    "lite",
    "--batch-size",
    2,
    "--crop-size",
    32,
    "--style-size",
    64,
    "--device",
    "cpu",
    "--lossnet",
    "random",
]


def test_cli_trains_and_resumes(painting, photos, tmp_path):
    run = tmp_path / "run"
    result = run_module(
        ["train", "--style", painting, "--content-dir", photos, "--steps", 2, "--out", run, *TINY_ARGS], tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert (run / "checkpoint.pt").is_file() and (run / "losses.png").is_file()
    result = run_module(["train", "--out", run, "--resume", "--steps", 3, "--lossnet", "random", "--quiet"], tmp_path)
    assert result.returncode == 0, result.stderr
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    assert ckpt["step"] == 3 and ckpt["train_config"]["crop_size"] == 32


def test_cli_trains_several_paintings_in_one_network(painting, photos, shared_data, tmp_path):
    run = tmp_path / "run"
    wave = shared_data / "styles" / "great_wave.jpg"
    result = run_module(
        [
            "train",
            "--styles",
            painting,
            wave,
            "--content-dir",
            photos,
            "--steps",
            2,
            "--out",
            run,
            "--temporal-weight",
            1.0,
            "--quiet",
            *TINY_ARGS,
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    assert ckpt["model_config"]["styles"] == 2 and list(ckpt["train_config"]["styles"]) == [str(painting), str(wave)]

    # A painting added to the run's checkpoint: the card names the run's paintings by their files.
    # Only the painting, the model and a run folder are given: the new row is trained with the
    # base run's arch, sizes, losses and photos.
    from styletransfer.networks import zoo

    added = tmp_path / "added"
    result = run_module(
        [
            "train",
            "--add-style",
            shared_data / "styles" / "the_scream.jpg",
            "--to",
            run / "checkpoint.pt",
            "--steps",
            1,
            "--out",
            added,
            "--quiet",
            "--device",
            "cpu",
            "--lossnet",
            "random",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert [c.name for c in zoo.available(added / "model")] == ["great_wave", "starry_night", "the_scream"]
    assert read_model(added / "model" / "zoo.lite.safetensors")[0].config.styles == 3
    grown = torch.load(added / "checkpoint.pt", weights_only=True)["train_config"]
    base = ckpt["train_config"]
    for name in ("arch", "crop_size", "style_size", "batch_size", "content_dir", "style_weight", "content_layer"):
        assert grown[name] == base[name], name
    assert grown["steps"] == 1 and grown["style"].endswith("the_scream.jpg")


def test_cli_trains_through_the_deperiod_filter_and_its_models_keep_it(painting, photos, tmp_path):
    # A run without the filter continues through it (--init): the filter holds no weights.
    plain = tmp_path / "plain"
    result = run_module(
        ["train", "--style", painting, "--content-dir", photos, "--steps", 1, "--out", plain, "--quiet", *TINY_ARGS],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    run = tmp_path / "run"
    result = run_module(
        [
            "train",
            "--style",
            painting,
            "--content-dir",
            photos,
            "--steps",
            1,
            "--out",
            run,
            "--deperiod",
            "--init",
            plain / "checkpoint.pt",
            "--quiet",
            *TINY_ARGS,
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    assert ckpt["model_config"]["deperiod"] is True and ckpt["train_config"]["deperiod"] is True
    assert read_model(run / "checkpoint.pt")[0].config.deperiod


def test_cli_missing_style_is_a_one_line_error(photos, tmp_path):
    result = run_module(["train", "--content-dir", photos, "--out", tmp_path / "run"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "--style" in result.stderr


def test_ddp_two_processes_match_one_process(painting, photos, tmp_path):
    # Each rank trains on its half of every batch and DDP averages the gradients; the
    # losses are means of per-image terms, so this equals one process with the whole batch.
    common = [
        "train",
        "--style",
        painting,
        "--content-dir",
        photos,
        "--steps",
        2,
        "--temporal-weight",
        1.0,
        "--quiet",
        *TINY_ARGS,
    ]
    result = run_module(
        ["--standalone", "--nproc_per_node=2", "-m", "styletransfer", *common, "--out", tmp_path / "ddp"],
        tmp_path,
        module=("-m", "torch.distributed.run"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    result = run_module([*common, "--out", tmp_path / "single"], tmp_path)
    assert result.returncode == 0, result.stderr

    ddp = torch.load(tmp_path / "ddp" / "checkpoint.pt", weights_only=True)
    single = torch.load(tmp_path / "single" / "checkpoint.pt", weights_only=True)
    assert ddp["step"] == single["step"] == 2
    # Up to float rounding, which Adam's first steps (about lr * sign(gradient)) can blow up
    # for near-zero gradients; a wrong split or average moves many weights by ~2 * lr = 2e-3.
    for name, value in single["model"].items():
        assert torch.allclose(ddp["model"][name], value, atol=2e-4), name
    rows = read_csv(tmp_path / "ddp" / "losses.csv")
    assert [int(r["step"]) for r in rows] == [2] and float(rows[0]["temporal"]) > 0
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == [
        "checkpoint.pt",
        "config.json",
        "losses.csv",
        "losses.png",
    ]


# ---------------------------------------------------------------- several paintings in one network


def test_several_paintings_train_one_network_with_a_row_each(painting, photos, shared_data, tmp_path, vgg):
    paintings = [
        str(painting),
        str(shared_data / "styles" / "great_wave.jpg"),
        str(shared_data / "styles" / "the_scream.jpg"),
    ]
    config = tiny(painting, photos, style="", styles=paintings, steps=3, batch_size=2)
    assert config.model_config.styles == 3
    # Images take the paintings in turn: step 1 has 0, 1; step 2 has 2, 0; step 3 has 1, 2.
    assert [training_data.style_indices(config, k).tolist() for k in (1, 2, 3)] == [[0, 1], [2, 0], [1, 2]]
    assert training_data.style_indices(config, 2, rank=1, world_size=2).tolist() == [0]  # ranks split a step's batch
    path = training.train(config, tmp_path / "run", lossnet=vgg)
    net = read_model(path)[0]
    assert net.config.styles == 3
    before = build(TransformerConfig(arch="lite")).widen(3)
    trained = {k: v for k, v in net.state_dict().items() if v.ndim == 2}
    for key, rows in trained.items():  # every painting's row moved, each its own way
        assert not torch.allclose(rows, before.state_dict()[key])
    assert any(not torch.allclose(rows[0], rows[1]) for rows in trained.values())
    # A one-style network (an autoencoder, another style's) starts every painting of a run.
    one = training.train(tiny(painting, photos, steps=1), tmp_path / "one", lossnet=vgg)
    again = training.train(dataclasses.replace(config, init=str(one), steps=1), tmp_path / "from_one", lossnet=vgg)
    assert read_model(again)[0].config.styles == 3
    with pytest.raises(StyleTransferError, match="not both"):
        tiny(painting, photos, styles=paintings)


def test_a_several_style_loss_matches_each_image_to_its_painting(painting, shared_data, vgg):
    from styletransfer.io import images
    from styletransfer.perceptual.loss import PerceptualLoss

    a = images.load_tensor(painting, long_side=48)
    b = images.load_tensor(shared_data / "styles" / "great_wave.jpg", long_side=48)
    loss = PerceptualLoss([a, b], content_layers=("relu2_2",), lossnet=vgg, each=True)
    assert loss.style_distance(a, torch.tensor([0])) == pytest.approx(0, abs=1e-6)
    assert loss.style_distance(b, torch.tensor([1])) == pytest.approx(0, abs=1e-6)
    assert loss.style_distance(a, torch.tensor([1])) > 0.01
    with pytest.raises(ValueError, match="style indices"):
        loss.style_distance(a)


def test_cli_adds_a_painting_by_fitting_only_its_scale_and_shift(painting, photos, shared_data, tmp_path):
    from styletransfer.networks import zoo

    base, model = _two_style_lite_zoo(tmp_path / "zoo")
    out = tmp_path / "added"

    def add(name, out):
        return run_module(
            [
                "train",
                "--add-style",
                shared_data / "styles" / "the_scream.jpg",
                "--to",
                model,
                "--name",
                name,
                "--content-dir",
                photos,
                "--steps",
                2,
                "--lr",
                0.05,
                "--out",
                out,
                "--quiet",
                *TINY_ARGS,
            ],
            tmp_path,
        )

    result = add("scream", out)
    assert result.returncode == 0, result.stderr
    assert [c.name for c in zoo.available(out / "model")] == ["night", "scream", "wave"]
    grown = read_model(out / "model" / "zoo.lite.safetensors")[0]
    before = read_model(model)[0]
    assert grown.config.styles == 3
    for key, value in grown.state_dict().items():
        old = before.state_dict()[key]
        if value.ndim == 2:  # the old rows as they were, the new one fitted from their mean
            assert torch.equal(value[:2], old) and not torch.allclose(value[2], old.mean(0), atol=1e-4), key
        else:
            assert torch.equal(value, old), key  # the convolutions stay
    clash = add("wave", tmp_path / "again")
    assert clash.returncode == 2 and "already has a style named 'wave'" in clash.stderr
    assert not (tmp_path / "again" / "checkpoint.pt").exists()
