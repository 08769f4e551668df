"""`python -m convnext_steps bench` end to end at a tiny size, and its timing/memory helpers. No timed asserts: speed
lives in docs/benchmarks.md."""

import json

import pytest
import torch

from convnext_steps.cli import format_bench, main
from convnext_steps.measure import peak_memory_bytes, time_interleaved

TINY = [
    "bench",
    "--device",
    "cpu",
    "--image-size",
    "32",
    "--batch-size",
    "2",
    "--train-batch-size",
    "2",
    "--warmup",
    "0",
    "--rounds",
    "1",
]
MODES = ("inference", "train")


def _run_json(capsys, *extra) -> dict:
    assert main(TINY + list(extra) + ["--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _check_timings(row: dict, modes=MODES, batch: int = 2) -> None:
    for mode in modes:
        m = row[mode]
        assert m["batch_size"] == batch and len(m["seconds"]) == 1
        assert 0 < m["min_ms"] <= m["median_ms"] <= m["max_ms"]
        assert m["img_per_s"] == pytest.approx(batch / (m["median_ms"] / 1000))
        assert m["peak_mib"] > 0
    if "train" in modes:  # a training step keeps activations and all fresh gradients (4 B/param) alive at once
        assert row["train"]["peak_mib"] * 2**20 > 4 * row["params"]
    assert [m for m in MODES if m in row] == list(modes)


def test_bench_steps_json(capsys):
    report = _run_json(capsys, "--steps", "00", "12_sep", "12", "--clock", "cpu", "--optimized")
    assert report["kind"] == "steps"
    assert [r["name"] for r in report["results"]] == ["00_resnet50", "12_separate_downsampling"]
    assert [r["params"] for r in report["results"]] == [25_557_032, 28_589_128]
    for row in report["results"]:
        _check_timings(row)
    setup = report["setup"]
    assert (setup["device"], setup["image_size"], setup["clock"], setup["modes"]) == ("cpu", 32, "cpu", list(MODES))
    assert report["environment"]["torch"] == torch.__version__
    assert report["command"].startswith("python -m convnext_steps bench --device cpu --batch-size 2")
    assert "--steps 00_resnet50 12_separate_downsampling" in report["command"]
    assert report["command"].endswith(" --optimized --json") and report["optimized"]
    table = format_bench(report)
    assert "00_resnet50" in table and "12_separate_downsampling" in table and "inference img/s" in table


def test_bench_vs_peers_json(capsys):
    # Inference only, to keep the test short: training runs through the same code in the steps test.
    report = _run_json(capsys, "--vs-peers", "--modes", "inference")
    assert report["kind"] == "vs-peers" and report["setup"]["modes"] == ["inference"]
    rows = {r["name"]: r for r in report["results"]}
    assert list(rows) == ["ours", "ours-optimized", "torchvision", "timm"]
    for row in rows.values():
        assert row["params"] == 28_589_128
        _check_timings(row, modes=("inference",))
    # Same weights, same batch: the peers' logits equal ours (bit for bit today; the issue allows 1e-5), and the
    # optimized model's equal the plain one's exactly.
    assert rows["torchvision"]["max_abs_logit_diff"] <= 1e-5 and rows["timm"]["max_abs_logit_diff"] <= 1e-5
    assert rows["ours-optimized"]["max_abs_logit_diff"] == 0.0
    for mine in ("ours", "ours-optimized"):
        for peer in ("torchvision", "timm"):
            expected = rows[peer]["inference"]["median_ms"] / rows[mine]["inference"]["median_ms"]
            assert report["ratios"][f"{mine} / {peer}"] == {"inference": pytest.approx(expected)}
    table = format_bench(report)
    assert "ours / torchvision speed: inference" in table and "ours-optimized / timm speed: inference" in table


@pytest.mark.parametrize(
    "bad, message",
    [
        (["--steps", "99"], "unknown step '99'; valid ids: 00_resnet50"),
        (["--steps", "13"], "unknown step '13'"),
        (["--batch-size", "0"], "positive integer"),
        (["--image-size", "16"], "at least 32"),
        (["--amp", "fp8"], "invalid choice"),
        (["--modes", "backward"], "invalid choice"),
        (["--device", "tpu"], "expected auto, cpu, cuda"),
        (["--steps", "12", "--vs-peers"], "not allowed with argument"),
        (["--compile", "--warmup", "0"], "--compile needs --warmup >= 1"),
    ],
)
def test_bench_rejects_bad_arguments(bad, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(TINY + bad)
    assert exc.value.code != 0
    assert message in capsys.readouterr().err + str(exc.value.code)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_bench_without_cuda_says_so(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--device", "cuda"])
    assert "no CUDA device" in capsys.readouterr().err


def test_time_interleaved_alternates_and_reports_progress():
    calls, shown = [], []
    fns = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    times = time_interleaved(fns, warmup=1, rounds=3, progress=shown.append)
    assert calls == ["a", "b"] + ["a", "b"] * 3  # warm-up, then one call of each per round
    assert shown == ["a", "b"] * 3
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3} and all(t >= 0 for v in times.values() for t in v)


def test_peak_memory_counts_what_is_alive_at_once():
    n = 1 << 20  # 4 MiB of float32

    def one_at_a_time():
        for _ in range(3):
            torch.ones(n)

    def three_at_once():
        keep = [torch.ones(n) for _ in range(3)]
        return len(keep)

    assert 4 * n <= peak_memory_bytes(one_at_a_time) < 2 * 4 * n
    assert 3 * 4 * n <= peak_memory_bytes(three_at_once) < 4 * 4 * n


def test_training_matches_torchvision_with_drop_path_on():
    # Drop path scales the per-sample mask (not x) like torchvision: same seed, the very same numbers.
    import torchvision
    from conftest import randomize_

    from convnext_steps import build_model, load_weights
    from convnext_steps.convert import convert_state_dict

    ref = randomize_(torchvision.models.convnext_tiny(stochastic_depth_prob=0.1)).train()
    ours = build_model(12).train()  # drop-path rate 0.1, as torchvision's
    load_weights(ours, ref.state_dict())
    x, y = torch.randn(2, 3, 32, 32), torch.tensor([1, 2])
    logits = []
    for model in (ref, ours):
        torch.manual_seed(11)
        out = model(x)
        torch.nn.functional.cross_entropy(out, y).backward()
        logits.append(out.detach())
    assert torch.equal(logits[0], logits[1])  # bit for bit (x * mask / keep differed by ~1e-7)
    ref_grads, _ = convert_state_dict(ours, {k: p.grad for k, p in ref.named_parameters()})
    for name, p in ours.named_parameters():
        assert (p.grad - ref_grads[name]).abs().max() <= 1e-5 * max(1.0, ref_grads[name].abs().max().item()), name
