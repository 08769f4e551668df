"""`measure.eval_mode`, the one save-mode / eval / restore block: the model's training flag comes back whatever the
with-block does, in the measuring helpers and in the trainer's `evaluate` (which once lost it on an error)."""

import pytest
import torch
from torch import nn

from convnext_steps.measure import count_calls, eval_mode, stage_shapes
from convnext_steps.roadmap import build_model
from convnext_steps.training.distributed import Runtime
from convnext_steps.training.engine import evaluate

TINY = {"depths": (1, 1, 1, 1), "dims": (8, 16, 32, 64), "stem_dim": 8}


@pytest.mark.parametrize("training", [True, False])
def test_eval_mode_restores_the_flag_even_when_the_block_raises(training):
    model = nn.Sequential(nn.BatchNorm2d(3), nn.Dropout())
    model.train(training)
    with eval_mode(model) as inside:
        assert inside is model and not any(m.training for m in model.modules())
    assert all(m.training == training for m in model.modules())
    with pytest.raises(RuntimeError, match="boom"), eval_mode(model):
        raise RuntimeError("boom")
    assert model.training == training


def test_measuring_leaves_a_training_model_training():
    with torch.device("meta"):
        model = build_model("12", num_classes=10, **TINY).train()
    assert stage_shapes(model, 32)[-1] == (64, 1, 1)
    assert count_calls(model, nn.GELU) == 4  # one GELU per block, four blocks
    assert model.training


def test_evaluate_restores_training_mode_when_the_loader_fails():
    model = build_model("12", num_classes=10, **TINY).train()
    rt = Runtime(0, 1, torch.device("cpu"))

    def loader():
        yield torch.zeros(2, 3, 32, 32), torch.tensor([0, 1])
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        evaluate(model, loader(), rt)
    assert model.training
    metrics = evaluate(model, [(torch.zeros(2, 3, 32, 32), torch.tensor([0, 1]))], rt)
    assert set(metrics) == {"loss", "top1", "top5"} and model.training
