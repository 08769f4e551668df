"""Notebook 18 (the design-space explorer): its exercises and their checkers.

18.1 predicts what step 12's third part, layer scale, costs in parameters, before the notebook splits the bundle.
18.2 builds a change off the roadmap's path: `fewer_norms` in a standard ResNet bottleneck (ResNet-50 + 10), the
block the explorer builds for that set, judged by behaviour; `in_variant` then puts it into the whole network.
"""

from __future__ import annotations

import torch
from torch import nn

from ..explorer import Block, build_variant, variant_config
from ..measure import count_params
from ..network import Network
from .core import (
    BuildIt,
    Case,
    Exercise,
    Mistake,
    Verdict,
    Wrong,
    _compare_output,
    _random_state,
    block_cases,
    check_module,
    record,
    run,
)

__all__ = ["EXERCISES", "FewerNormsBottleneck", "in_variant", "VARIANT_182"]


def _layer_scale_params() -> int:
    with torch.device("meta"):
        return count_params(build_variant("all")) - count_params(build_variant(without="12c"))


EXERCISES: tuple = (
    Exercise(
        "18.1",
        "How many parameters does layer scale (12c) add to ConvNeXt-T?",
        _layer_scale_params,
        "one gain per channel in every block: 3 x 96 + 3 x 192 + 9 x 384 + 3 x 768, 0.02% of the network.",
        "layer scale is one learned number per output channel of each block; count blocks x width, stage by stage.",
    ),
)


# 18.2 -- build it: fewer_norms in a standard bottleneck ------------------------------------------------------------

VARIANT_182 = "resnet50+10"
_SPEC = variant_config(VARIANT_182).block.keywords["spec"]


class FewerNormsBottleneck(Block):
    """The explorer's block of ResNet-50 + 10: the bottleneck keeps one norm, after its k x k conv."""

    def __init__(self, in_dim: int, dim: int, kernel_size: int, stride: int = 1, drop_path: float = 0.0):
        super().__init__(in_dim, dim, kernel_size, stride, drop_path, spec=_SPEC)


def _branch_end(m: nn.Module, x: torch.Tensor, out: torch.Tensor, relu_after_sum: bool = True) -> torch.Tensor:
    out = m.shortcut(x) + m.drop_path(m.pwconv2(out))
    return m.act(out) if relu_after_sum else out


def _norm_after_pwconv1(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = m.act(m.norm(m.pwconv1(x)))  # the same width (dim // 4), the wrong place
    return _branch_end(m, x, m.act(m.conv(out)))


MISTAKES = (
    Mistake(
        "the norm you kept runs after pwconv1; fewer_norms keeps the one after the k x k conv (bn2 of the three)",
        _norm_after_pwconv1,
    ),
    Mistake(
        "the ReLU after the norm is missing: 10 removes norms, not activations (that is 09)",
        lambda m, x: _branch_end(m, x, m.norm(m.conv(m.act(m.pwconv1(x))))),
    ),
    Mistake(
        "the ReLU after pwconv1 is missing: 10 removes norms, not activations (that is 09)",
        lambda m, x: _branch_end(m, x, m.act(m.norm(m.conv(m.pwconv1(x))))),
    ),
    Mistake(
        "the ReLU after the sum is missing: without 09 the block still ends with ReLU(shortcut + branch)",
        lambda m, x: _branch_end(m, x, m.act(m.norm(m.conv(m.act(m.pwconv1(x))))), relu_after_sum=False),
    ),
)

_WHICH = "the norm that stays is the one after the k x k conv, on its dim // 4 channels"


def _one_norm(module: nn.Module, case: Case) -> str | None:
    """Exactly one norm runs in the branch, right after the k x k conv."""
    x = torch.zeros(case.inputs[0])
    calls = [name for name, _, _ in record(module, x) if not name.startswith("shortcut")]
    norms = [n for n in calls if isinstance(module.get_submodule(n), nn.modules.batchnorm._BatchNorm)]
    if len(norms) != 1:
        return f"{len(norms)} norms run in the branch ({', '.join(norms) or 'none'}); fewer_norms keeps one"
    if calls.index(norms[0]) != calls.index("conv") + 1:
        return f"the norm runs after `{calls[calls.index(norms[0]) - 1]}`; it belongs right after the k x k conv"
    return None


def _judge(candidate):
    return check_module(
        candidate,
        FewerNormsBottleneck,
        block_cases(),
        mistakes=MISTAKES,
        properties=[_one_norm],
        hints={"norm.weight": _WHICH, "norm.bias": _WHICH},
    )


EXERCISES += (
    BuildIt(
        "18.2",
        "Write the block of ResNet-50 + 10 (fewer_norms in a standard bottleneck): pwconv1 (in_dim -> dim // 4), "
        "conv (k x k, the stride), pwconv2 (-> dim), one BatchNorm `norm`, ReLU `act`, the given shortcut.",
        _judge,
        lambda: FewerNormsBottleneck,
        "one norm per block, after the k x k conv, wherever that conv sits: the same change as step 10's, in "
        "ResNet-50's own block, and the 1x1 convs carry a bias because no BatchNorm follows them any more.",
    ),
)


@torch.no_grad()
def in_variant(candidate, image_size: int = 64) -> Verdict:
    """Once 18.2 is solved: the learner's block in the whole ResNet-50 + 10 network, against the explorer's."""
    if not EXERCISES[1].check(candidate):
        return Verdict(None, "skipped: exercise 18.2 not solved yet")
    config = variant_config(VARIANT_182)
    with torch.device("meta"):  # built without init; the same random weights go into both below
        reference = Network(config)
    weights = _random_state(reference, seed=7)
    reference.load_state_dict(weights, assign=True)
    try:
        with torch.device("meta"):
            mine = run("building the network with your block", Network, config.replace(block=candidate))
        run("loading the variant's weights into your network", mine.load_state_dict, weights, assign=True)
        x = torch.randn(1, 3, image_size, image_size, generator=torch.Generator().manual_seed(3))
        want, got = reference.eval()(x), run("your network's forward", mine.eval(), x)
    except Wrong as wrong:
        return Verdict(False, f"in {VARIANT_182}: {wrong}")
    problem = _compare_output(got, want, tuple(x.shape), 1e-4, "your network")
    if problem:
        return Verdict(False, f"in {VARIANT_182}: {problem}")
    return Verdict(
        True,
        f"your {candidate.__name__} in {VARIANT_182}: {count_params(mine):,} parameters and, with the same weights, "
        f"the explorer's logits on a {image_size}x{image_size} image (max |diff| < 1e-4)",
    )
