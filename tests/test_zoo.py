"""Model files: save -> load, lookup order, the Hub path against a local Hub cache, publishing."""

import dataclasses
import os

import hub_cache
import pytest
import torch

from styletransfer.errors import StyleTransferError
from styletransfer.networks import zoo
from styletransfer.networks.transformer import TransformerConfig, build


def _model(arch="lite", seed=0):
    torch.manual_seed(seed)
    net = build(TransformerConfig(arch=arch))
    with torch.no_grad():  # move off the initialisation so a wrong load would show
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return net.eval()


def _card(name="wave", arch="lite"):
    return zoo.ModelCard(name=name, arch=arch, title="The Great Wave", artist="Hokusai", year="1831", steps=7)


def _fp16_rounded(net):
    copy = build(net.config)
    copy.load_state_dict({k: v.half().float() for k, v in net.state_dict().items()})
    return copy.eval()


@pytest.mark.parametrize("arch", ["full", "lite"])
def test_save_load_gives_identical_output(tmp_path, arch):
    net = _model(arch)
    path = zoo.save(net, _card(arch=arch), tmp_path)
    assert path.name == f"wave.{arch}.safetensors" and path.with_suffix(".json").is_file()
    loaded, card = zoo.load("wave", arch, folder=tmp_path)
    assert card.title == "The Great Wave" and card.model_config == dataclasses.asdict(net.config)
    image = torch.rand(1, 3, 37, 53)
    assert torch.equal(loaded(image), _fp16_rounded(net)(image))  # weights are stored as fp16
    # ...and a second save/load round trip changes nothing at all
    zoo.save(loaded, card, tmp_path / "again")
    again, _ = zoo.load(str(tmp_path / "again" / f"wave.{arch}.safetensors"))
    assert torch.equal(again(image), loaded(image))


def test_available_lists_complete_models_sorted(tmp_path):
    zoo.save(_model("full"), _card("wave", "full"), tmp_path)
    zoo.save(_model("lite"), _card("wave", "lite"), tmp_path)
    zoo.save(_model("lite"), _card("abc", "lite"), tmp_path)
    (tmp_path / "orphan.full.json").write_text('{"name": "orphan", "arch": "full"}')  # no weights
    assert [(c.name, c.arch) for c in zoo.available(tmp_path)] == [("abc", "lite"), ("wave", "full"), ("wave", "lite")]


def test_unknown_name_lists_what_exists(tmp_path):
    zoo.save(_model(), _card(), tmp_path)
    with pytest.raises(StyleTransferError, match=r"no model named 'nope'.*wave \(lite\)"):
        zoo.load("nope", "lite", folder=tmp_path)
    with pytest.raises(StyleTransferError, match="^network must be one of full, lite; got 'huge'$"):
        zoo.load("wave", "huge", folder=tmp_path)


def test_missing_card_or_mismatched_weights_fail_clearly(tmp_path):
    path = zoo.save(_model("lite"), _card(), tmp_path)
    path.with_suffix(".json").unlink()
    with pytest.raises(StyleTransferError, match="side by side"):
        zoo.load("wave", "lite", folder=tmp_path)
    path = zoo.save(_model("lite"), _card(), tmp_path)
    card = path.with_suffix(".json")
    card.write_text(card.read_text().replace('"arch": "lite"', '"arch": "full"'))  # card lies about the net
    with pytest.raises(StyleTransferError, match="does not match its card"):
        zoo.load_file(path)
    path = zoo.save(_model("lite"), _card(), tmp_path)
    path.write_bytes(path.read_bytes()[:100])  # truncated download
    with pytest.raises(StyleTransferError, match="damaged"):
        zoo.load_file(path)


def test_hub_repo_from_a_local_hub_cache(tmp_path, monkeypatch):
    built = tmp_path / "built"
    net = _model("lite")
    path = zoo.save(net, _card(), built)
    files = {p.name: p.read_bytes() for p in (path, path.with_suffix(".json"))}
    hub_cache.populate(tmp_path / "hub", "someone/styles", files)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded, card = zoo.load("wave", "lite", folder=tmp_path / "empty", hub_repo="someone/styles")
    image = torch.rand(1, 3, 16, 24)
    assert card.artist == "Hokusai" and torch.equal(loaded(image), _fp16_rounded(net)(image))
    monkeypatch.setenv(zoo.ENV_HUB_REPO, "someone/styles")  # the env var names the repo too
    assert zoo.load("wave", "lite", folder=tmp_path / "empty")[1].name == "wave"
    with pytest.raises(StyleTransferError, match="HF_HUB_OFFLINE is set and someone/styles/other.lite"):
        zoo.load("other", "lite", folder=tmp_path / "empty")


def test_push_to_hub_uploads_both_files(tmp_path, monkeypatch):
    import huggingface_hub

    zoo.save(_model(), _card(), tmp_path)
    calls = []
    monkeypatch.setattr(
        huggingface_hub.HfApi, "create_repo", lambda self, repo_id, **kw: calls.append(("create", repo_id))
    )
    monkeypatch.setattr(
        huggingface_hub.HfApi, "upload_file", lambda self, **kw: calls.append(("upload", kw["path_in_repo"]))
    )
    url = zoo.push_to_hub("wave", "lite", "me/styles", folder=tmp_path, token="hf_test")
    assert url == "https://huggingface.co/me/styles"
    assert calls == [("create", "me/styles"), ("upload", "wave.lite.safetensors"), ("upload", "wave.lite.json")]


def test_push_to_hub_offline_fails_with_a_clear_message(tmp_path, monkeypatch):
    import huggingface_hub

    zoo.save(_model(), _card(), tmp_path)

    def unreachable(self, repo_id, **kw):
        raise huggingface_hub.errors.OfflineModeIsEnabled("offline")

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", unreachable)
    with pytest.raises(StyleTransferError, match="could not publish to me/styles"):
        zoo.push_to_hub("wave", "lite", "me/styles", folder=tmp_path, token="hf_test")


def test_saved_models_get_ordinary_file_permissions(tmp_path):
    # Files to ship (pretrained/, a Hub upload, a Space) must be readable by others, not
    # left private like the temporary file they were written through.
    old = os.umask(0o022)
    try:
        path = zoo.save(_model("lite"), _card(), tmp_path)
    finally:
        os.umask(old)
    for p in (path, path.with_suffix(".json")):
        assert p.stat().st_mode & 0o777 == 0o644


# ---------------------------------------------------------------- several styles in one file


def _several_card(names=("wave", "night", "scream")):
    entries = [{"name": n, "title": n.title(), "artist": "A" + n, "year": "1900"} for n in names]
    return zoo.ModelCard(name="zoo", arch="lite", styles=entries, steps=9)


def _several_model(styles=3):
    torch.manual_seed(1)
    net = build(TransformerConfig(arch="lite")).widen(styles)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return net.eval()


def test_each_style_of_a_several_style_file_is_a_model_of_its_own(tmp_path):
    net = _several_model()
    zoo.save(net, _several_card(), tmp_path)
    cards = zoo.available(tmp_path)
    assert [(c.name, c.arch, c.title, c.artist) for c in cards] == [
        ("night", "lite", "Night", "Anight"),
        ("scream", "lite", "Scream", "Ascream"),
        ("wave", "lite", "Wave", "Awave"),
    ]
    loaded, card = zoo.load("scream", "lite", folder=tmp_path)
    assert card.name == "scream" and card.steps == 9 and loaded.config.styles == 1
    x = torch.rand(1, 3, 24, 31)
    with torch.no_grad():
        assert torch.allclose(loaded(x), _fp16_rounded(net).select(2)(x), atol=1e-5)
    with pytest.raises(StyleTransferError, match="no model named 'nope'"):
        zoo.load("nope", "lite", folder=tmp_path)


def test_styles_of_one_file_blend(tmp_path):
    zoo.save(_several_model(), _several_card(), tmp_path)
    blended, card = zoo.load_blend({"wave": 3, "night": 1}, "lite", folder=tmp_path)
    assert card.name == "wave+night" and card.title == "Wave 75% + Night 25%"
    wave, _ = zoo.load("wave", "lite", folder=tmp_path)
    night, _ = zoo.load("night", "lite", folder=tmp_path)
    # Blending mixes scale and shift linearly: the blended parameters are the mix of the styles'.
    for (k, b), w, n in zip(blended.state_dict().items(), wave.state_dict().values(), night.state_dict().values()):
        assert torch.allclose(b, 0.75 * w + 0.25 * n, atol=1e-6), k
    zoo.save(_model("lite"), _card(name="solo"), tmp_path)
    for bad, words in (
        ({"wave": 1, "solo": 1}, "only styles of one several-style model"),
        ({"wave": 0}, "not all zero"),
        ({"wave": -1, "night": 2}, ">= 0"),
    ):
        with pytest.raises(StyleTransferError, match=words):
            zoo.load_blend(bad, "lite", folder=tmp_path)


def test_a_card_must_list_every_style():
    with pytest.raises(StyleTransferError, match="needs a card that lists 3"):
        zoo.save(_several_model(3), _several_card(("wave", "night")), "/nonexistent")
