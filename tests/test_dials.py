"""The user's dials and choices (styletransfer/dials.py): one declaration each, read by the
engine's checks, the CLI's options and the page's sliders and radios."""

from __future__ import annotations

import argparse
import dataclasses
import math

import pytest

from styletransfer import cli, dials, gatys, universal
from styletransfer.errors import StyleTransferError

DIALS = {name: value for name, value in vars(dials).items() if isinstance(value, dials.Dial)}
CHOICES = {name: value for name, value in vars(dials).items() if isinstance(value, dials.Choice)}


def test_the_three_strengths_have_names_of_their_own():
    labels = {dials.STYLE_MIX.label, dials.TEXTURE_STRENGTH.label, dials.STYLE_WEIGHT.label}
    assert labels == {"style mix", "texture strength", "style weight"}
    assert len({dial.label for dial in DIALS.values() if "strength" in dial.label or "mix" in dial.label}) == 2


@pytest.mark.parametrize("name", sorted(DIALS))
def test_every_dial_takes_its_default_and_numbers_in_text(name):
    dial = DIALS[name]
    for page in (False, True):
        low, high = dial.range(page)
        assert low <= dial.default <= high
        assert dial.check(dial.default, page=page) == dial.default
        assert dial.check(f" {dial.default} ", page=page) == dial.default  # as a form or a client sends it
    assert isinstance(dial.check(dial.default), int) == dial.integer
    assert dial.help and dial.label[0].islower()  # messages start with it; the page capitalises it


@pytest.mark.parametrize("name", sorted(DIALS))
@pytest.mark.parametrize("page", [False, True])
def test_every_bad_value_gets_the_one_line_message(name, page):
    dial = DIALS[name]
    low, high = dial.range(page)
    bad = {"abc": "'abc'", "": "''", None: "None", True: "True", math.nan: "nan", math.inf: "inf", low - 1: None}
    if not math.isinf(high):
        bad[high + 1] = None
    for value, shown in bad.items():
        with pytest.raises(StyleTransferError) as raised:
            dial.check(value, page=page)
        message = str(raised.value)
        assert message.startswith(f"{dial.label} must be {dial.range_text(page)}, got "), message
        assert "\n" not in message
        if shown is not None:
            assert message.endswith(f"got {shown}")
        assert not dial.accepts(value, page=page)


def test_ranges_read_as_they_are_declared():
    assert dials.GATYS_SIZE.range_text() == "32..2048 px"
    assert dials.GATYS_SIZE.range_text(page=True) == "32..1024 px"
    assert dials.STYLE_WEIGHT.range_text() == "0 or more"
    assert dials.STYLE_SCALE.range_text(page=True) == "0.25..2"
    assert dials.INSTANT_SIZE.check(300.4) == 300  # whole-number dials round what a slider sends


def test_the_page_says_why_it_refuses_what_the_command_line_takes():
    with pytest.raises(StyleTransferError, match=r"^output size must be 32\.\.1024 px, got 1100 \(the app stops"):
        dials.GATYS_SIZE.check(1100, page=True)
    with pytest.raises(StyleTransferError, match=r"^output size must be 32\.\.1024 px, got 0$"):
        dials.GATYS_SIZE.check(0, page=True)
    assert dials.GATYS_SIZE.check(1100) == 1100


def test_painting_weights_from_text_or_numbers():
    assert dials.painting_weights("2, 1", 2) == (2.0, 1.0)
    assert dials.painting_weights("2; 1", 2) == (2.0, 1.0)
    assert dials.painting_weights([2, 1], 2) == (2.0, 1.0)
    assert dials.painting_weights("  ", 3) is None and dials.painting_weights(None, 3) is None
    with pytest.raises(StyleTransferError, match=r"one painting weight per painting \(1\), got 2"):
        dials.painting_weights("1, 2", 1)
    for bad in ("a, b", "-1, 2", "0, 0"):
        with pytest.raises(StyleTransferError, match="painting weights must be numbers >= 0"):
            dials.painting_weights(bad, 2)


def test_the_engine_checks_its_dials_when_a_setting_is_made():
    assert gatys.GatysConfig(size="256", steps="3").size == 256  # numbers in text are read
    with pytest.raises(StyleTransferError, match=r"^steps must be 1\.\.10000, got 'many'$"):
        gatys.GatysConfig(steps="many")
    with pytest.raises(StyleTransferError, match=r"^texture strength must be 0\.\.1, got 1\.5$"):
        universal.Settings(strength=1.5)
    with pytest.raises(StyleTransferError, match=r"^painting scale must be 0\.25\.\.4, got 8$"):
        universal.Settings(painting_scale=8)
    assert set(gatys.DIALS) <= {f.name for f in dataclasses.fields(gatys.GatysConfig)}


def _option(parser, command: str, flag: str):
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return next(a for a in commands.choices[command]._actions if flag in a.option_strings)


@pytest.mark.parametrize(
    "command, flag, dial",
    [
        ("gatys", "--size", dials.GATYS_SIZE),
        ("gatys", "--steps", dials.STEPS),
        ("gatys", "--style-weight", dials.STYLE_WEIGHT),
        ("gatys", "--style-scale", dials.STYLE_SCALE),
        ("gatys", "--tv-weight", dials.TV_WEIGHT),
        ("gatys", "--seed", dials.SEED),
        ("stylize", "--painting-scale", dials.PAINTING_SCALE),
        ("video", "--strength", dials.STYLE_MIX),
        ("video", "--scale", dials.VIDEO_SCALE),
    ],
)
def test_the_cli_help_shows_each_dials_range_and_default(command, flag, dial):
    action = _option(cli.build_parser(), command, flag)
    assert action.default == dial.default
    assert f"({dial.range_text()}, default {dial.default:g})" in action.help


def test_the_cli_stylize_strength_names_both_of_its_dials():
    text = _option(cli.build_parser(), "stylize", "--strength").help
    assert "style mix" in text and "texture strength" in text
    assert f"default {dials.STYLE_MIX.default:g}" in text and f"default {dials.TEXTURE_STRENGTH.default:g}" in text


def test_the_pages_sliders_show_each_dials_page_range(several):
    import app

    components = {c["props"].get("elem_id"): c["props"] for c in app.build_app(several).get_config_file()["components"]}
    expected = {
        "size": dials.GATYS_SIZE,
        "steps": dials.STEPS,
        "strength": dials.STYLE_WEIGHT,
        "fast-strength": dials.TEXTURE_STRENGTH,
        "instant-strength": dials.STYLE_MIX,
        "instant-size": dials.INSTANT_SIZE,
        "instant-blend": dials.STYLE_BLEND,
        "video-strength": dials.STYLE_MIX,
        "video-scale": dials.VIDEO_SCALE,
        "browser-strength": dials.STYLE_MIX,
    }
    for elem_id, dial in expected.items():
        props = components[elem_id]
        assert (props["minimum"], props["maximum"], props["value"]) == (*dial.range(page=True), dial.default), elem_id
    assert components["instant-strength"]["label"].startswith("Style mix")
    assert "texture strength" in components["fast-strength"]["label"]
    assert "style weight" in components["strength"]["label"]


# ---------------------------------------------------------------- choices


@pytest.mark.parametrize("name", sorted(CHOICES))
def test_every_choice_takes_its_values_and_refuses_others_in_one_line(name):
    choice = CHOICES[name]
    assert choice.default in choice.values and len(set(choice.values)) == len(choice.values) > 1
    assert choice.help and all(meaning for _, meaning in choice.choices)
    for value in choice.values:
        assert choice.check(value) == value
    for bad in ("elsewhere", "", None, 1, choice.default.upper()):
        with pytest.raises(StyleTransferError) as raised:
            choice.check(bad)
        assert str(raised.value) == f"{choice.label} must be one of {', '.join(choice.values)}; got {bad!r}"


def test_the_engine_checks_its_choices():
    from styletransfer import any_painting
    from styletransfer.networks import load_network
    from styletransfer.networks.transformer import TransformerConfig
    from styletransfer.video import stylize

    with pytest.raises(StyleTransferError, match=r"^optimiser must be one of lbfgs, adam; got 'sgd'$"):
        gatys.GatysConfig(optimizer="sgd")
    with pytest.raises(StyleTransferError, match=r"^colours must be one of none, luminance, histogram; got 'sepia'$"):
        gatys.GatysConfig(preserve_colors="sepia")
    with pytest.raises(StyleTransferError, match=r"^Refine's start \(init\) must be one of fast, content, noise"):
        any_painting.refine("photo.jpg", ["painting.jpg"], start="image")
    for run in (
        lambda: any_painting.fast("photo.jpg", ["painting.jpg"], method="wct"),
        lambda: any_painting.refine("photo.jpg", ["painting.jpg"], fast_method="wct"),
    ):
        with pytest.raises(
            StyleTransferError, match=r"^fast result's painter must be one of predicted, universal; got"
        ):
            run()
    for make in (lambda: TransformerConfig(arch="huge"), lambda: load_network("wave", "huge")):
        with pytest.raises(StyleTransferError, match=r"^network must be one of full, lite; got 'huge'$"):
            make()
    assert stylize.temporal_options("steady") == {"temporal": True, "grid_average": True}
    assert stylize.temporal_options("off") == {"temporal": False, "grid_average": False}
    with pytest.raises(StyleTransferError, match=r"^temporal mode must be one of blend, steady, off"):
        stylize.temporal_options("on")
    assert set(gatys.CHOICES) <= {f.name for f in dataclasses.fields(gatys.GatysConfig)}
    assert (gatys.GatysConfig().optimizer, gatys.GatysConfig().preserve_colors) == ("lbfgs", "none")


@pytest.mark.parametrize(
    "command, flag, choice",
    [
        ("gatys", "--optimizer", dials.OPTIMIZER),
        ("gatys", "--preserve-colors", dials.COLORS),
        ("stylize", "--arch", dials.ARCH),
        ("stylize", "--fast-method", dials.FAST_METHOD),
        ("video", "--arch", dials.VIDEO_ARCH),
        ("video", "--temporal", dials.TEMPORAL),
    ],
)
def test_the_cli_offers_each_choices_values_with_their_meanings(command, flag, choice):
    action = _option(cli.build_parser(), command, flag)
    assert tuple(action.choices) == choice.values and action.default == choice.default
    assert all(f"{value} = {meaning}" in action.help for value, meaning in choice.choices)
    assert action.help.endswith(f"(default {choice.default})")


def test_the_pages_radios_and_the_apis_inputs_offer_each_choice(several):
    import app

    config = app.build_app(several).get_config_file()
    components = {c["props"].get("elem_id"): c["props"] for c in config["components"]}
    expected = {
        "instant-arch": dials.ARCH,
        "video-arch": dials.VIDEO_ARCH,
        "colours": dials.COLORS,
        "init": dials.REFINE_START,
        "fast-method": dials.FAST_METHOD,
    }
    for elem_id, choice in expected.items():
        props = components[elem_id]
        assert [tuple(pair) for pair in props["choices"]] == [(m, v) for v, m in choice.choices], elem_id
        assert props["value"] == choice.default, elem_id
    api = {
        (p["label"], tuple(v for _, v in p["choices"]), p["value"])
        for p in (c["props"] for c in config["components"])
        if p.get("label") in ("arch", "optimizer", "preserve_colors", "init", "fast_method") and "choices" in p
    }
    declared = (dials.ARCH, dials.VIDEO_ARCH, dials.OPTIMIZER, dials.COLORS, dials.REFINE_START, dials.FAST_METHOD)
    assert api == {(c.name, c.values, c.default) for c in declared}
