"""grid_sample_bilinear: torch's own bilinear grid_sample, also inside a compiled graph."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vidgan_builtin.networks.sampling import grid_sample_bilinear

from tests._compiler import needs_cpp_compiler


def _inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    image = torch.randn(2, 3, 8, 8, generator=gen, requires_grad=True)
    grid = (torch.rand(2, 5, 7, 2, generator=gen) * 2.4 - 1.2).requires_grad_()  # some points outside the frame
    return image, grid


@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
def test_the_operator_gives_grid_samples_values_and_gradients(padding):
    """The custom operator a compiled graph calls (here called directly, in eager) is F.grid_sample:
    the same values, and through its registered backward the same gradients for image and grid."""
    from vidgan_builtin.networks.sampling import _PADDING

    image, grid = _inputs()
    weights = torch.randn(2, 3, 5, 7)
    want = F.grid_sample(image, grid, mode="bilinear", padding_mode=padding, align_corners=False)
    got = torch.ops.vidgan_builtin.grid_sample_bilinear(image, grid, _PADDING[padding])
    assert torch.equal(got, want)
    want_grads = torch.autograd.grad((want * weights).sum(), [image, grid])
    got_grads = torch.autograd.grad((got * weights).sum(), [image, grid])
    for a, b in zip(got_grads, want_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert torch.equal(grid_sample_bilinear(image, grid, padding), want)  # eager: F.grid_sample itself


@needs_cpp_compiler
def test_a_compiled_graph_calls_torchs_kernel_not_a_decomposition():
    """Inductor decomposes aten.grid_sampler_2d into scalar gathers on a CPU; through the operator
    the compiled code calls it as an extern kernel, and gives F.grid_sample's values."""
    from torch._inductor.utils import run_and_get_code

    image, grid = (t.detach() for t in _inputs(1))
    compiled = torch.compile(lambda i, g: grid_sample_bilinear(i * 2, g), dynamic=False)
    out, code = run_and_get_code(compiled, image, grid)
    want = F.grid_sample(image * 2, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    torch.testing.assert_close(out, want, rtol=0, atol=1e-6)
    assert "grid_sample_bilinear" in "".join(code) and "grid_sampler_2d" not in "".join(code).replace(
        "aten.grid_sampler_2d", "")
