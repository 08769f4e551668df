"""`optimize_for_inference`: the same weights, bit-identical logits, and the plain code wherever it cannot help."""

import pytest
import torch
from conftest import randomize_

from convnext_steps import build_model, convnext
from convnext_steps.fast import InferenceBlock, optimize_for_inference
from convnext_steps.steps.step12_separate_downsampling import Block


@pytest.fixture(scope="module")
def models():
    plain = randomize_(build_model(12, drop_path_rate=0.5)).eval()
    return plain, optimize_for_inference(plain)


def test_same_weights_shared_not_copied(models):
    plain, fast = models
    assert fast is not plain and not fast.training
    assert all(a is b for a, b in zip(plain.parameters(), fast.parameters()))
    assert all(type(b) is InferenceBlock for s in fast.stages for b in s.blocks)
    assert all(type(b) is Block for s in plain.stages for b in s.blocks)  # the tutorial's model is left plain


@pytest.mark.parametrize("context", [torch.inference_mode, torch.no_grad])
def test_logits_bit_identical_and_input_untouched(models, context):
    plain, fast = models
    x = torch.randn(2, 3, 64, 64)
    before = x.clone()
    with context():
        assert torch.equal(fast(x), plain(x))
    assert torch.equal(x, before)


def test_autocast_keeps_type_promotion(models):
    plain, fast = models
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        expected, got = plain(x), fast(x)
    assert got.dtype == expected.dtype and torch.equal(got, expected)


def test_gradients_and_training_run_the_plain_code(models):
    plain, fast = models
    x = torch.randn(2, 3, 32, 32)
    out = fast(x)  # grad enabled: the plain path, so autograd works
    out.square().mean().backward()
    assert all(p.grad is not None for p in plain.parameters())
    plain.zero_grad(set_to_none=True)
    fast.train()
    try:
        torch.manual_seed(5)
        a = fast(x)
        torch.manual_seed(5)
        b = plain.train()(x)
        assert torch.equal(a, b)  # drop path draws the same samples
    finally:
        fast.eval()
        plain.eval()


def test_other_models_and_steps():
    small = optimize_for_inference(randomize_(convnext("small")).eval())
    assert sum(type(m) is InferenceBlock for m in small.modules()) == 36
    resnet = randomize_(build_model(0)).eval()
    fast = optimize_for_inference(resnet)  # nothing to optimize: the same computation
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        assert torch.equal(fast(x), resnet(x))
