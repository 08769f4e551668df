"""Notebook 17 (ConvNeXt V2's GRN): its exercises and their checkers."""

from __future__ import annotations

import torch
from torch import nn

from ..measure import count_params
from ..steps import ext_v2_grn
from ..steps.ext_v2_grn import GRN
from .core import BuildIt, Case, Exercise, Mistake, build, check_module, meta_model, run


def _grn_factors() -> tuple[float, float]:
    grn = GRN(4)
    with torch.no_grad():
        grn.gamma.fill_(1.0)
        x = torch.tensor([1.0, 1.0, 1.0, 5.0]).reshape(1, 1, 1, 4)  # one pixel: each channel's norm is |x|
        factors = (grn(x) / x).flatten()
    return round(factors[0].item(), 4), round(factors[3].item(), 4)


PREDICTIONS = (
    Exercise(
        "17.2",
        "GRN with gamma = 1 and beta = 0 on a one-pixel map whose four channels are 1, 1, 1 and 5: by "
        "what factor does it scale channel 0 and channel 3? Give (channel 0, channel 3).",
        _grn_factors,
        "With one pixel each channel's norm is |x_c|: 1, 1, 1, 5, mean 2, so N(x) is 0.5 for channels 0-2 "
        "and 2.5 for channel 3, and each channel is multiplied by 1 + gamma * N(x)_c. Every channel grows here, "
        "channel 3 most: its share of the energy (the sum of squares) rises from 89% to 98%.",
        "GRN(x) = gamma * (x * N(x)) + beta + x; on one pixel N(x)_c = |x_c| / (the mean of |x_j| over the "
        "channels j).",
        tolerance=1e-4,
    ),
    Exercise(
        "17.3",
        "How many more parameters does ConvNeXt V2-T have than ConvNeXt-T?",
        lambda: count_params(meta_model("v2_tiny")) - count_params(meta_model("12")),
        "GRN adds gamma and beta on the 4C hidden channels of each block (2 x 4 x 6,624 = 52,992) and layer "
        "scale's C per block goes (6,624): 46,368.",
        "per block, GRN has two parameters per hidden channel (4C of them); layer scale had one per channel "
        "(C); sum C over the 18 blocks (3*96 + 3*192 + 9*384 + 3*768).",
        unit="parameters",
    ),
)


# 17.1 -- build it: Global Response Normalization -----------------------------------------------------------------


class _SeededGRN(GRN):
    """The reference GRN with gamma and beta drawn: at gamma = beta = 0 only the residual acts, so a wrong
    normalisation (other axes, a sum for the mean, another eps) would give the same output as the right one."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__(dim, eps)
        with torch.no_grad():
            self.gamma.normal_(0.0, 1.0)
            self.beta.normal_(0.0, 0.5)


def _grn(m: nn.Module, x: torch.Tensor, space=(1, 2), mean_dim=-1, residual=True, eps=None) -> torch.Tensor:
    gx = torch.linalg.vector_norm(x, dim=space, keepdim=True)
    nx = gx / (gx.mean(dim=mean_dim, keepdim=True) + (m.eps if eps is None else eps))
    return m.gamma * (x * nx) + m.beta + (x if residual else 0)


MISTAKES = (
    Mistake(
        "yours takes each pixel's norm over the channels; GRN takes each channel's L2 norm over all pixels (H and "
        "W: dims 1, 2 of (N, H, W, C)), then divides by its mean over the channels",
        lambda m, x: _grn(m, x, space=(-1,), mean_dim=(1, 2)),
    ),
    Mistake(
        "yours takes the norm over W and C (dims 2, 3: as if the map were (N, C, H, W)); the map is channels-last "
        "(N, H, W, C): each channel's norm runs over H and W, dims 1 and 2",
        lambda m, x: _grn(m, x, space=(2, 3), mean_dim=1),
    ),
    Mistake(
        "GRN's residual is missing: gamma * (x * Nx) + beta + x, so that a fresh GRN (gamma = beta = 0) is the "
        "identity",
        lambda m, x: _grn(m, x, residual=False),
    ),
    Mistake(
        "yours divides each channel's norm by the sum over the channels, as the V2 paper's Eq. (2) writes it; "
        "the official code, timm and ours divide by the mean (the sum / C, plus eps), and with the same gamma "
        "that gives other outputs",
        lambda m, x: (
            m.gamma
            * (
                x
                * (lambda g: g / (g.sum(-1, keepdim=True) + m.eps))(
                    torch.linalg.vector_norm(x, dim=(1, 2), keepdim=True)
                )
            )
            + m.beta
            + x
        ),  # fmt: skip
    ),
)


def _fresh_is_identity(module: nn.Module, case: Case) -> str | None:
    fresh = build(type(module), case.args)
    x = torch.randn(2, 3, 4, case.args["dim"], generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        out = run("your GRN's forward", fresh, x.clone())
    if not torch.allclose(out, x, atol=1e-6):
        return "a fresh GRN should be the identity: start gamma and beta at zero"
    return None


def _judge_grn(candidate):
    cases = (
        Case(dict(dim=8), ((1, 5, 7, 8), (2, 3, 3, 8), (1, 1, 1, 8))),
        Case(dict(dim=5), ((3, 4, 6, 5),)),
    )
    return check_module(
        candidate, _SeededGRN, cases, mistakes=MISTAKES, properties=[_fresh_is_identity], what="your GRN"
    )


def _with_grn(grn: type) -> dict:
    """The V2 block with the learner's GRN in place of ours."""

    class Block(ext_v2_grn.Block):
        def __init__(self, in_dim: int, dim: int, kernel_size: int, stride: int = 1, drop_path: float = 0.0):
            super().__init__(in_dim, dim, kernel_size, stride, drop_path)
            self.grn = grn(self.expansion * dim)

    return dict(block=Block)


EXERCISES = (
    BuildIt(
        "17.1",
        "Write GRN for channels-last maps (N, H, W, C): each channel's L2 norm over all pixels, divided by the "
        "mean over channels (+ eps), scales x; then gamma * (x * Nx) + beta + x, gamma and beta zero at first.",
        _judge_grn,
        lambda: GRN,
        "each channel is multiplied by 1 + gamma_c * N(x)_c, N(x)_c being its L2 norm over the pixels divided "
        "by the mean of all channels' norms: its response relative to the others (scale the input, and N(x) "
        "stays). With gamma > 0 a channel above the mean gets a larger factor than one below it, so the strong "
        "channels' share of the energy grows and the weak ones' shrinks: the 4C hidden channels compete; "
        "gamma = beta = 0 makes a fresh GRN the identity.",
        kind="layer",
        step="v2_tiny",
        into=_with_grn,
    ),
) + PREDICTIONS
