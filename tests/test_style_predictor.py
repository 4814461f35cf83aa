"""scripts/style_predictor.py: painting with per-image rows, a resumable training run, publishing."""

from __future__ import annotations

import pytest
import torch

from scripts import style_predictor
from styletransfer import predicted
from styletransfer.networks import read_model


@pytest.fixture(scope="module")
def lite():
    network, _ = read_model(style_predictor.LITE)
    return network.eval().requires_grad_(False)


def test_per_image_rows_paint_as_the_zoo_paints(lite):
    photo = torch.rand(2, 3, 64, 80, generator=torch.Generator().manual_seed(0))
    rows = style_predictor.zoo_rows(lite)
    # Image 0 with painting 3's rows, image 1 with painting 7's: as the zoo paints them.
    chosen = {name: table[[3, 7]] for name, table in rows.items()}
    with torch.no_grad():
        ours = style_predictor.paint(lite, photo, chosen)
        torch.testing.assert_close(ours[:1], lite(photo[:1], 3))
        torch.testing.assert_close(ours[1:], lite(photo[1:], 7))
    assert "style_weights" not in vars(lite)  # the network's own style choice is back


def test_an_untrained_predictor_gives_the_mean_painting(lite):
    predictor = style_predictor.RowPredictor(style_predictor.zoo_rows(lite))
    photo = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        rows = predictor(torch.randn(1, 1920))
        mean = torch.full((lite.config.styles,), 1.0 / lite.config.styles)
        torch.testing.assert_close(style_predictor.paint(lite, photo, rows), lite(photo, mean), atol=1e-5, rtol=1e-4)


def test_painting_views_are_square_crops_in_range():
    painting = torch.rand(1, 3, 300, 500)
    for _ in range(5):
        view = style_predictor.painting_view(painting)
        assert view.shape[0] == 1 and view.shape[2] == view.shape[3] <= style_predictor.VIEW
        assert float(view.min()) >= 0.0 and float(view.max()) <= 1.0


def test_training_saves_and_resumes(tmp_path, shared_data):
    run = tmp_path / "run"
    assert style_predictor.train(run, minutes=5, max_steps=2, photos=8, batch=2) == 2
    first = torch.load(run / style_predictor.CHECKPOINT)
    assert first["step"] == 2
    # Resumed with the pull toward the grid average on (the steady fine-tune).
    assert style_predictor.train(run, minutes=5, max_steps=3, photos=8, batch=2, steady_weight=20.0) == 3
    second = torch.load(run / style_predictor.CHECKPOINT)
    assert second["step"] == 3
    moved = [not torch.equal(a, b) for a, b in zip(first["predictor"].values(), second["predictor"].values())]
    assert any(moved)
    # Published, it is what the app reads: the run's predictor, for the shipped lite.
    published = predicted.Predicted(
        style_predictor.publish(run, tmp_path / "out.safetensors"), lite_file=style_predictor.LITE
    )
    assert published.info["steps"] == 3 and published.info["lite_sha256"] == predicted.file_sha256(style_predictor.LITE)
    for name, value in published.predictor.state_dict().items():
        torch.testing.assert_close(value, second["predictor"][name].half().float())
