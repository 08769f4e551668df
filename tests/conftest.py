import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def randomize_(model: torch.nn.Module, scale: float = 0.1) -> torch.nn.Module:
    """Give every parameter and BN statistic non-trivial values, so equality tests can fail."""
    g = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith(("running_mean", "bias")):
                t.copy_((torch.rand(t.shape, generator=g) - 0.5) * 0.4)
            elif t.ndim == 1:  # norm weights, layer scale
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            else:
                t.copy_(torch.randn(t.shape, generator=g) * scale / max(1.0, t[0].numel() ** 0.5 / 10))
    return model
