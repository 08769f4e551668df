"""Inference speed, apart from the tutorial's code: `optimize_for_inference(model)`.

The returned model shares the given model's parameters and buffers (no copy of the weights) and gives
bit-identical logits. Where no autograd graph is recorded and the model is in eval mode, each final-step
block runs its GELU, layer scale and residual add in place, on the branch's own fresh tensors; on CPU, not
allocating those tensors (page faults on new memory) saves more time than the elementwise work itself takes
(docs/benchmarks.md). Under autograd, in training mode, or where autocast would promote types, a block runs
the plain code of `steps/step12_separate_downsampling.py`.
"""

from __future__ import annotations

import copy
import itertools

import torch
from torch import nn

from .steps.step12_separate_downsampling import Block

__all__ = ["optimize_for_inference", "InferenceBlock"]


class InferenceBlock(Block):
    """Step 12's Block with an in-place inference path; the same parameters, the same numbers."""

    def forward(self, x):
        if self.training or torch.is_grad_enabled():
            return super().forward(x)
        out = self.pwconv1(self.norm(self.dwconv(x).permute(0, 2, 3, 1)))
        out = self.pwconv2(torch.ops.aten.gelu_(out, approximate=self.act.approximate))  # GELU in place
        if out.dtype != x.dtype or (self.gamma is not None and self.gamma.dtype != x.dtype):
            # Under autocast the branch is bf16/fp16 while x is float32: let the plain ops promote.
            out = self.gamma * out if self.gamma is not None else out
            return x + out.permute(0, 3, 1, 2)
        if self.gamma is not None:
            out.mul_(self.gamma)
        return out.permute(0, 3, 1, 2).add_(x)  # eval: drop path is the identity


def optimize_for_inference(model: nn.Module) -> nn.Module:
    """A copy of `model` in eval mode that shares its weights and runs final-step blocks in place at inference.

    Other blocks run as they are. The logits equal the plain model's bit for bit (tests/test_fast.py).
    """
    shared = {id(t): t for t in itertools.chain(model.parameters(), model.buffers())}
    fast = copy.deepcopy(model, memo=shared)  # new modules, the very same tensors
    for module in fast.modules():
        if type(module) is Block:
            module.__class__ = InferenceBlock
    return fast.eval()
