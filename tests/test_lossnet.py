import re

import pytest
import torch

from styletransfer.perceptual.vgg import LAYER_NAMES, VGG16Features, deepest


def test_layer_names_follow_torchvision_indices():
    # torchvision vgg16().features: 0 conv1_1, 1 relu1_1, 4 pool1, 28 conv5_3, 30 pool5
    assert LAYER_NAMES[0] == "conv1_1" and LAYER_NAMES[3] == "relu1_2" and LAYER_NAMES[4] == "pool1"
    assert LAYER_NAMES[22] == "relu4_3" and LAYER_NAMES[28] == "conv5_3" and len(LAYER_NAMES) == 31


def test_state_dict_keys_match_torchvision():
    net = VGG16Features(last_layer="pool5")
    convs = [k for k in net.state_dict() if k.endswith(".weight")]
    assert convs == [f"features.{i}.weight" for i in (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)]


def test_truncation_and_shapes():
    torch.manual_seed(0)
    net = VGG16Features(last_layer="relu3_3")
    assert net.last_layer == "relu3_3"
    out = net(torch.rand(2, 3, 33, 47), ["relu1_2", "relu3_3"])
    assert out["relu1_2"].shape == (2, 64, 33, 47)
    assert out["relu3_3"].shape == (2, 256, 8, 11)
    with pytest.raises(
        ValueError, match=re.escape("layers ['relu4_3'] are not computed by this network (last: relu3_3)")
    ):
        net(torch.rand(1, 3, 32, 32), ["relu4_3"])


def test_loads_a_state_dict_and_normalises_inside():
    torch.manual_seed(0)
    source = VGG16Features(last_layer="relu2_2")
    copy = VGG16Features(source.state_dict(), last_layer="relu2_2")
    image = torch.rand(1, 3, 16, 16)
    before = image.clone()
    assert torch.equal(source(image, ["relu2_2"])["relu2_2"], copy(image, ["relu2_2"])["relu2_2"])
    assert torch.equal(image, before)  # the caller's tensor is not normalised in place


def test_parameters_are_frozen_but_image_gets_gradient():
    net = VGG16Features(last_layer="relu2_1")
    assert not any(p.requires_grad for p in net.parameters())
    image = torch.rand(1, 3, 16, 16, requires_grad=True)
    net(image, ["relu2_1"])["relu2_1"].sum().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0


def test_deepest():
    assert deepest(["relu1_2", "relu4_3", "relu3_1"]) == "relu4_3"
