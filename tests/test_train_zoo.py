"""The zoo recipe (scripts/train_zoo.py): its stages, presets, and its whole code path at tiny sizes."""

import dataclasses
import fnmatch
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from scripts import train_zoo as recipe
from styletransfer import training
from styletransfer.networks import load_network, zoo
from styletransfer.perceptual.weights import load_vgg16_state_dict

REPO = Path(__file__).resolve().parent.parent


def test_stages_start_from_the_autoencoder_and_lite_learns_from_full(tmp_path):
    plan = recipe.stages(tmp_path, recipe.PRESETS["cpu"])
    assert list(plan) == ["autoencoder", "full", "full_steady", "lite_distil", "lite", "lite_steady"]
    autoencoder, full, full_steady, lite_distil, lite, lite_steady = (config for _, config in plan.values())
    assert autoencoder.content_weight == autoencoder.style_weight == 0 and autoencoder.reconstruct_weight > 0  # no VGG
    assert full.init == str(plan["autoencoder"][0] / training.CHECKPOINT) and full.arch == "full"
    assert full.model_config.styles == len(recipe.STYLES) == 16 and full.temporal_weight > 0
    assert full.model_config.deperiod  # no period-4 grid from the upsamplings (transformer.Deperiod)
    for config in (lite_distil, lite):
        assert config.teacher == str(plan["full"][0] / training.CHECKPOINT) and config.arch == "lite"
        assert config.distill_weight > 0 and config.temporal_weight > 0 and config.styles == full.styles  # steady
    assert lite_distil.content_weight == lite_distil.style_weight == 0  # pixels only: no VGG pass
    # Then the paintings' own losses give back the strokes pixel distillation averaged away.
    assert lite.init == str(plan["lite_distil"][0] / training.CHECKPOINT)
    assert (lite.content_weight, lite.style_weight, lite.content_layer) == (
        full.content_weight,
        full.style_weight,
        full.content_layer,
    )
    assert (
        lite.period_weight > 0 and not lite.model_config.deperiod
    )  # taught not to stamp a grid, at no cost at run time
    # Then each learns its own painting averaged over its grid, the paintings' losses kept:
    # those are the networks published.
    for arch, steady, config in (("full", full_steady, full), ("lite", lite_steady, lite)):
        finished = str(plan[arch][0] / training.CHECKPOINT)
        assert steady.init == steady.teacher == finished and steady.teacher_grid_average
        assert steady.distill_weight == recipe.STEADY_DISTILL_WEIGHT and steady.temporal_from == 0
        assert (steady.style_weight, steady.shift_weight, steady.arch) == (
            config.style_weight,
            config.shift_weight,
            arch,
        )
        assert steady.model_config == config.model_config
    assert recipe.PUBLISHED == {"full": "full_steady", "lite": "lite_steady"}


def test_every_painting_is_shared_and_no_run_sees_the_held_out_photos(tmp_path):
    assert len({p.name for p in recipe.STYLES}) == len(recipe.STYLES)
    for _, config in recipe.stages(tmp_path, recipe.PRESETS["cpu"]).values():
        assert tuple(config.exclude) == recipe.HELD_OUT_PHOTOS
        for painting in config.paintings:
            assert (REPO / painting).is_file()  # paths are relative to the repo root


def test_every_preset_trains_steady_video(tmp_path):
    # Shift equivariance in both archs (issue 27): a fine-tune at the end on the CPU, from the
    # start on a GPU, so a lent GPU's run is as steady as the CPU one it replaces.
    for device, preset in recipe.PRESETS.items():
        plan = recipe.stages(tmp_path, preset)
        for arch in ("full", "lite"):
            config = plan[arch][1]
            assert config.shift_weight > 0 and config.temporal_from < config.steps, (device, arch)
            if device == "cuda":
                assert config.temporal_from == 0, arch
        for stage in ("full_steady", "lite_steady"):
            steady = plan[stage][1]
            assert steady.steps > 0 and steady.teacher_grid_average and steady.shift_weight > 0, (device, stage)


def test_the_gpu_preset_is_the_papers_scale():
    cuda = recipe.PRESETS["cuda"]
    assert cuda.crop_size >= 256 and cuda.batch_size >= 8 and cuda.full_steps >= 20_000
    assert cuda.amp == "bf16" and cuda.channels_last and cuda.num_workers > 0
    assert cuda.log_every >= 100  # the loop syncs with the host only at log steps


def test_train_preview_publish_at_tiny_sizes(tmp_path, monkeypatch, shared_data):
    tiny = recipe.Preset(
        crop_size=32,
        style_size=48,
        batch_size=2,
        autoencoder_steps=1,
        full_steps=2,
        full_steady_steps=1,
        lite_distil_steps=1,
        lite_steps=2,
        lite_steady_steps=1,
        checkpoint_every=1,
        log_every=1,
    )
    monkeypatch.setitem(recipe.PRESETS, "cpu", tiny)
    runs, folder = tmp_path / "runs", tmp_path / "pretrained"
    (folder).mkdir()
    (folder / "starry_night.lite.json").write_text("{}")  # a one-style file the zoo replaces
    recipe.main(["--runs", str(runs), "train"])
    recipe.main(["--runs", str(runs), "preview", "--arch", "lite", "--size", "32", "-o", str(tmp_path / "sheet.jpg")])
    assert (tmp_path / "sheet.jpg").is_file()
    recipe.main(["--runs", str(runs), "publish", "--folder", str(folder)])
    assert sorted(p.name for p in folder.glob("*.safetensors")) == ["zoo.full.safetensors", "zoo.lite.safetensors"]
    assert not (folder / "starry_night.lite.json").exists()
    cards = zoo.available(folder)
    assert len(cards) == 2 * 16 and {c.name for c in cards} == {p.name for p in recipe.STYLES}
    assert all(zoo.thumbnail(p.name, folder) for p in recipe.STYLES)
    photo = (np.random.default_rng(0).random((24, 32, 3)) * 255).astype(np.uint8)
    for arch in ("full", "lite"):
        wave = load_network("great_wave", arch, folder=folder)
        assert wave.card.title == "The Great Wave off Kanagawa" and wave.stylize(photo).shape == photo.shape
    assert dataclasses.asdict(cards[0])["styles"] == []

    # Another machine: compact snapshots in the repository carry the runs over.
    snapshots = tmp_path / "snapshots"
    recipe.main(["--runs", str(runs), "--snapshots", str(snapshots), "snapshot"])
    assert sorted(p.name for p in snapshots.iterdir()) == [
        "autoencoder.pt",
        "full.pt",
        "full_steady.pt",
        "lite.pt",
        "lite_distil.pt",
        "lite_steady.pt",
    ]
    assert (snapshots / "full.pt").stat().st_size < 0.7 * (runs / "full" / training.CHECKPOINT).stat().st_size
    fresh = tmp_path / "fresh_runs"
    recipe.main(["--runs", str(fresh), "--snapshots", str(snapshots), "restore"])
    assert recipe._steps_done(fresh / "full") == 2
    # Its runs keep no log: republishing them keeps the published cards' final losses.
    published = {card.arch: card.losses for card in cards}
    assert all(published.values())
    recipe.main(["--runs", str(fresh), "publish", "--folder", str(folder)])
    assert {card.arch: card.losses for card in zoo.available(folder)} == published
    monkeypatch.setitem(recipe.PRESETS, "cpu", dataclasses.replace(tiny, full_steps=3))
    recipe.main(["--runs", str(fresh), "train", "--arch", "full"])  # resumes where the snapshot was
    assert recipe._steps_done(fresh / "full") == 3


def test_the_gpu_pack_fits_a_device_call_and_holds_no_held_out_photo(tmp_path):
    pack = tmp_path / "pack"
    recipe.main(["pack", "--out", str(pack), "--megabytes", "31.5"])  # VGG16 (29 MB) and the paintings, a few photos
    size = sum(f.stat().st_size for f in pack.rglob("*") if f.is_file())
    assert size <= 31.5e6
    photos = sorted((pack / "photos").iterdir())
    assert photos and not any(fnmatch.fnmatch(p.name, held) for p in photos for held in recipe.HELD_OUT_PHOTOS)
    assert all(min(Image.open(p).size) <= recipe.PACK_PHOTO_SIDE for p in photos)
    assert sorted(p.name for p in (pack / "styles").iterdir()) == sorted(p.file for p in recipe.STYLES)
    assert max(Image.open(pack / "styles" / recipe.STYLES[0].file).size) == recipe.PRESETS["cuda"].style_size
    # The fp16 copy loads as the engine's VGG16 and stays within fp16 rounding of the original.
    packed, original = load_vgg16_state_dict(pack / "vgg16.safetensors"), load_vgg16_state_dict()
    for name, weight in original.items():
        torch.testing.assert_close(packed[name], weight, rtol=1e-3, atol=1e-4)


def test_a_time_limit_ends_each_stage_and_partial_runs_publish(tmp_path, monkeypatch, shared_data):
    tiny = recipe.Preset(
        crop_size=32,
        style_size=48,
        batch_size=2,
        autoencoder_steps=1000,
        full_steps=1000,
        full_steady_steps=1000,
        lite_distil_steps=1000,
        lite_steps=1000,
        lite_steady_steps=1000,
        checkpoint_every=1000,
        log_every=1,
    )
    monkeypatch.setitem(recipe.PRESETS, "cpu", tiny)
    monkeypatch.setattr(recipe, "SETUP_SECONDS", 0)
    monkeypatch.setattr(recipe, "clock", lambda: 0.0)  # setup takes no time: each stage gets its share of 3 s
    data = tmp_path / "data"  # a pack's layout: photos/ and styles/
    (data / "photos").mkdir(parents=True)
    for photo in sorted((shared_data / "photos").glob("bsds500*"))[:3]:
        (data / "photos" / photo.name).write_bytes(photo.read_bytes())
    (data / "styles").symlink_to(shared_data / "styles")
    runs, folder = tmp_path / "runs", tmp_path / "pretrained"
    folder.mkdir()
    recipe.main(["--runs", str(runs), "--data", str(data), "train", "--minutes", "0.05"])
    steps = {name: recipe._steps_done(runs / name) for name in recipe.STAGES}
    assert all(1 <= n < 1000 for n in steps.values()), steps  # each stage stopped early, checkpointed
    config = json.loads((runs / "full" / "config.json").read_text())["train_config"]
    assert config["content_dir"] == str(data / "photos") and config["styles"][0].startswith(str(data / "styles"))

    recipe.main(["--runs", str(runs), "publish", "--folder", str(folder)])
    assert not list(folder.glob("zoo.*"))  # unfinished stages are not published by default
    recipe.main(["--runs", str(runs), "publish", "--folder", str(folder), "--partial"])
    for arch, stage in recipe.PUBLISHED.items():  # each arch's last stage, as far as it went
        card = json.loads((folder / f"zoo.{arch}.json").read_text())
        assert card["steps"] == steps[stage] and len(card["styles"]) == 16
