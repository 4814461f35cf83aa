"""The universal mode's decoder recipe (scripts/train_decoders.py), its whole path at tiny sizes."""

import torch
from safetensors import safe_open

from scripts import train_decoders as recipe

TINY = ["--batch-size", "2", "--crop-size", "32", "--pixel-only", "1", "--log-every", "1"]


def test_train_resume_snapshot_restore_publish_at_tiny_sizes(tmp_path, monkeypatch, shared_data):
    runs = tmp_path / "runs"
    monkeypatch.setattr(recipe, "SNAPSHOT", tmp_path / "snapshot.pt")
    recipe.main(["--runs", str(runs), "train", *TINY, "--steps", "2"])
    ckpt = runs / recipe.RUN_NAME / "checkpoint.pt"
    first = torch.load(ckpt, weights_only=True)
    assert first["step"] == 2 and set(first["average"]) == set(first["model"])
    # The average trails the weights: it moved off its start but is not the last step's weights.
    name = next(k for k in first["model"] if k.endswith("weight"))
    assert not torch.equal(first["average"][name], first["model"][name])

    recipe.main(["--runs", str(runs), "snapshot"])
    ckpt.unlink()
    recipe.main(["--runs", str(runs), "restore"])
    restored = torch.load(ckpt, weights_only=True)["model"]
    # Resumes; the average's decay and the levels trained may change between resumes.
    recipe.main(["--runs", str(runs), "train", *TINY, "--steps", "3", "--average-decay", "0.5", "--levels", "1"])
    resumed = torch.load(ckpt, weights_only=True)
    assert resumed["step"] == 3
    for key, value in resumed["model"].items():  # only level 1 trained on
        assert torch.equal(value, restored[key]) == (not key.startswith("1.")), key
    rows = (runs / recipe.RUN_NAME / recipe.LOG).read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3"]  # the feature term joined after step 1
    assert rows[-1].split(",")[5]

    recipe.main(["--runs", str(runs), "publish", "--folder", str(tmp_path)])
    with safe_open(tmp_path / recipe.PUBLISHED, "pt") as f:
        assert f.metadata()["steps"] == "3" and f.metadata()["levels"] == "1,2,3"  # the mode's levels only
        assert {k.split(".")[0] for k in f.keys()} == {"1", "2", "3"}  # noqa: SIM118 (safetensors: no __iter__)
        assert torch.allclose(f.get_tensor(name).float(), resumed["average"][name], atol=1e-3)


def test_a_run_refuses_to_resume_with_other_training_settings(tmp_path, shared_data):
    runs = tmp_path / "runs"
    recipe.main(["--runs", str(runs), "train", *TINY, "--steps", "1"])
    try:
        recipe.main(["--runs", str(runs), "train", *TINY, "--steps", "2", "--lr", "1e-3"])
    except SystemExit as stop:
        assert "other settings" in str(stop)
    else:
        raise AssertionError("resumed with another learning rate")
