"""Reusing the models where PyTorch users put them (issue 17): torch.fx feature extraction, TorchScript, torch.export,
torch.compile, the backbone interface under torchvision's FPN, the timm plugin and ONNX in onnxruntime.

Every step and extension runs at small widths and depths (the same classes as the real
networks, so the same code paths) on 64x64 and 96x64 inputs, with randomised weights and BN statistics so that an
equality check can fail. Tolerances are stated where the check is not exact: ONNX_TOL for onnxruntime (measured
max |diff| about 1e-6 on these models), EXPORT_TOL for the other PyTorch paths (measured 0: the same kernels).
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections import OrderedDict

import pytest
import timm
import torch
from conftest import randomize_
from torch import nn
from torch.export import Dim
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names
from torchvision.ops import FeaturePyramidNetwork

import convnext_steps.timm_models as timm_models
from convnext_steps import ALL_STEPS, Network, build_model, convnext
from convnext_steps.backbone import Backbone, feature_info
from convnext_steps.timm_models import MODEL_NAMES, TimmNetwork, model_name

EXPORT_TOL = 1e-5
ONNX_TOL = 1e-4

HIERARCHICAL = {"depths": (1, 1, 1, 1), "dims": (16, 32, 64, 128), "stem_dim": 16}
ISOTROPIC = {"depths": (2,), "dims": (32,), "stem_dim": 32}
# At the tests' small sizes these steps build the very network of the step before them (they change only depths or
# widths, which the small sizes override): they run in `make test` only, marked slow.
SAME_AS_PREVIOUS = ("01_stage_ratio", "04_wider_96", "isotropic_b")
MODELS = [s.id if s.id not in SAME_AS_PREVIOUS else pytest.param(s.id, marks=pytest.mark.slow) for s in ALL_STEPS]
# torch.export and torch.compile cost seconds a model: these carry every kind of layer (BN, ReLU, max-pool and
# projection shortcuts; channels-last LN, GELU, GRN, downsampling layers and the head norm; the 16x16 stem, one stage
# and layer scale), and step 12 is compiled; the other models run in `make test` only, marked slow.
EXPORTED = ("00_resnet50", "v2_tiny", "isotropic_l")
COMPILED = ("12_separate_downsampling",)


def _first_of_each_layer_set() -> set[str]:
    """The first model of each set of layer classes (01 = 00's classes, 04 = 03's, 07 = 06's ...)."""
    firsts = {}
    for s in ALL_STEPS:
        with torch.device("meta"):
            model = build_model(s.id, **(ISOTROPIC if s.id.startswith("isotropic") else HIERARCHICAL))
        firsts.setdefault(frozenset(type(m) for m in model.modules()), s.id)
    return set(firsts.values())


FIRST_OF_EACH_LAYER_SET = _first_of_each_layer_set()


def _sweep(fast: tuple[str, ...]) -> list:
    """`fast`, then (marked slow) the first model of each other set of layer classes: capture traces Python, so a
    model built from the same classes as one already swept adds nothing."""
    return [
        s.id if s.id in fast else pytest.param(s.id, marks=pytest.mark.slow)
        for s in ALL_STEPS
        if s.id in fast or s.id in FIRST_OF_EACH_LAYER_SET
    ]


pytestmark = pytest.mark.filterwarnings(
    "ignore::FutureWarning",  # torch.jit.script is deprecated in favour of torch.export / torch.compile
    "ignore::DeprecationWarning",
    "ignore:NOTE. The nodes obtained by tracing the model in eval mode:UserWarning",  # DropPath adds nodes in train
)


def small(name: str, num_classes: int = 10) -> Network:
    """The model at small widths and depths, randomised, in eval mode."""
    overrides = ISOTROPIC if name.startswith("isotropic") else HIERARCHICAL
    model = build_model(name, num_classes=num_classes, **overrides)
    return randomize_(model).eval()


def inputs(model: Network) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    return torch.randn(2, 3, 64, 64), torch.randn(3, 3, 96, 64)


def assert_same(a: torch.Tensor, b: torch.Tensor, tol: float = 0.0) -> None:
    assert a.shape == b.shape
    assert (a - b).abs().max().item() <= tol, f"max |diff| {(a - b).abs().max().item():.2e} > {tol}"


# 1. Every model traces and scripts, and gives the eager outputs.


@pytest.mark.parametrize("name", ["00_resnet50", "12_separate_downsampling", "isotropic_s"])
def test_graph_node_names_list_the_stages_the_head_and_the_input_check(name):
    model = small(name)
    train_nodes, eval_nodes = get_graph_node_names(model)
    last = f"stages.{len(model.stages) - 1}"
    assert {"check_input", "head"} <= set(eval_nodes) <= set(train_nodes)
    assert any(node.startswith(f"{last}.blocks.") for node in eval_nodes)  # a stage's name picks its last node


@pytest.mark.parametrize("name", MODELS)
def test_fx_feature_extraction_gives_the_eager_stage_outputs_and_logits(name):
    model = small(name)
    returns = {f"stages.{i}": f"stage{i}" for i in range(len(model.stages))} | {"head": "logits"}
    extractor = create_feature_extractor(model, returns)
    for x in inputs(model):
        got, want = extractor(x), model.forward_stages(x)[1:]
        for i, feature in enumerate(want):
            assert_same(got[f"stage{i}"], feature)
        assert_same(got["logits"], model(x))
    # The input check is a leaf of the graph: the traced module still refuses bad input with the same line.
    with pytest.raises(
        ValueError, match=r"^expected 3 input channels \(N, 3, H, W\), got 1 in shape \(2, 1, 64, 64\)$"
    ):
        extractor(torch.zeros(2, 1, 64, 64))


@pytest.mark.parametrize("name", MODELS)
def test_torchscript_gives_the_eager_outputs_and_keeps_the_input_check(name):
    model = small(name)
    scripted = torch.jit.script(model)
    for x in inputs(model):
        assert_same(scripted(x), model(x))
        assert_same(scripted.forward_stages(x)[-1], model.forward_stages(x)[-1])
    small_side = model.reduction - 1
    with pytest.raises(
        torch.jit.Error, match=rf"ValueError: input {small_side}x64 is too small: the network downsample"
    ):
        scripted(torch.zeros(1, 3, small_side, 64))


@pytest.mark.slow  # 36 blocks to capture three times
def test_family_member_at_full_size_scripts_traces_and_exports_on_the_meta_device():
    # Step 12's classes (checked above on real numbers) at ConvNeXt-S's 36 blocks: only capture, so no weights.
    with torch.device("meta"):
        model = convnext("small").eval()
        x = torch.zeros(2, 3, 224, 224)
    assert torch.jit.script(model).forward_stages(x)[-1].shape == (2, 768, 7, 7)
    assert create_feature_extractor(model, {"stages.2": "c4"})(x)["c4"].shape == (2, 384, 14, 14)
    assert _export(model, x, 32).module()(x).shape == (2, 1000)


def test_jit_trace_gives_the_eager_outputs():
    for name in ("00_resnet50", "12_separate_downsampling"):
        model = small(name)
        x, other = inputs(model)
        with warnings.catch_warnings():
            warnings.simplefilter("error", torch.jit.TracerWarning)  # no shape-dependent branch is baked in
            traced = torch.jit.trace(model, x)
        assert_same(traced(other), model(other))


def _export(model: nn.Module, x: torch.Tensor, reduction: int) -> torch.export.ExportedProgram:
    # torch.export specialises sizes 0 and 1, so the deepest map must be at least 2x2: H, W >= 2 x the reduction.
    spatial = {"min": 2 * reduction, "max": 2048}
    shapes = {"x": {0: Dim("batch", min=1, max=1024), 2: Dim("height", **spatial), 3: Dim("width", **spatial)}}
    return torch.export.export(model, (x,), dynamic_shapes=shapes)


def _max_pool_exports_with_dynamic_sizes() -> bool:
    """torch 2.12's max-pool shape formula guards on the parity of its input's size, so torch.export refuses a
    dynamic height and width through a max-pool (steps 00 and 01's stem); torch 2.14 exports it."""
    try:
        torch.export.export(
            nn.MaxPool2d(3, 2, 1), (torch.zeros(1, 1, 32, 32),), dynamic_shapes={"input": {2: Dim("h", min=16)}}
        )
    except torch._dynamo.exc.UserError:
        return False
    return True


@pytest.mark.parametrize("name", _sweep(EXPORTED))
def test_export_with_dynamic_batch_and_spatial_sizes_gives_the_eager_outputs(name):
    model = small(name)
    x, other = inputs(model)
    if any(isinstance(m, nn.MaxPool2d) for m in model.modules()) and not _max_pool_exports_with_dynamic_sizes():
        # This torch's limit, not the model's (docs/deployment.md): said in one line, and the batch stays dynamic.
        with pytest.raises(torch._dynamo.exc.UserError, match=r"satisfy the generated guard .*% 2\) != 0"):
            _export(model, x, model.reduction)
        program = torch.export.export(model, (x,), dynamic_shapes={"x": {0: Dim("batch", min=1, max=1024)}})
        assert_same(program.module()(x[:1]), model(x[:1]), EXPORT_TOL)
        return
    program = _export(model, x, model.reduction).module()
    for y in (x, other, torch.randn(1, 3, 2 * model.reduction, 5 * model.reduction)):
        assert_same(program(y), model(y), EXPORT_TOL)


@pytest.mark.parametrize("name", _sweep(COMPILED))
def test_compile_fullgraph_with_dynamic_sizes_gives_the_eager_outputs(name):
    model = small(name)
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, dynamic=True, backend="eager")  # capture: one graph, no break
    for x in inputs(model):
        assert_same(compiled(x), model(x), EXPORT_TOL)


def test_eager_input_errors_stay_one_line():
    model = small("12_separate_downsampling")
    for bad, expected in [
        (torch.zeros(3, 64, 64), r"expected a 4-D batch \(N, 3, H, W\), got shape \(3, 64, 64\)"),
        (torch.zeros(5), r"expected a 4-D batch \(N, 3, H, W\), got shape \(5,\)"),  # printed as Python prints it
        (torch.zeros(1, 1, 64, 64), r"expected 3 input channels \(N, 3, H, W\), got 1 in shape \(1, 1, 64, 64\)"),
        (torch.zeros(1, 3, 31, 64), "input 31x64 is too small: the network downsamples by 32, so height and width"),
    ]:
        for forward in (model, model.forward_stages, Backbone(model), _timm_network(model)):
            with pytest.raises(ValueError, match=f"^{expected}") as error:
                forward(bad)
            assert "\n" not in str(error.value)


# 2. The backbone interface.


def test_feature_info_declares_every_stage_of_every_step():
    for step in ALL_STEPS:
        info = feature_info(step.config)
        if len(step.config.depths) == 1:  # isotropic: one stage, one scale
            assert info == [{"num_chs": step.config.dims[0], "reduction": 16, "module": "stages.0", "index": 0}]
        else:
            assert info.reduction() == [4, 8, 16, 32]
            assert info.channels() == list(step.config.dims)
            assert info.module_name() == ["stages.0", "stages.1", "stages.2", "stages.3"]


@pytest.mark.parametrize("name", ["00_resnet50", "12_separate_downsampling", "isotropic_s", "v2_tiny"])
def test_backbone_maps_match_feature_info(name):
    model = small(name)
    backbone = Backbone(model)
    x = inputs(model)[1]
    maps = backbone(x)
    assert [m.shape[1] for m in maps] == backbone.feature_info.channels()
    assert [(96 // r, 64 // r) for r in backbone.feature_info.reduction()] == [tuple(m.shape[-2:]) for m in maps]
    for m, want, info in zip(maps, model.forward_stages(x)[1:], backbone.feature_info):
        assert_same(m, want)
        assert backbone.get_submodule(info["module"]) is model.get_submodule(info["module"])


def test_backbone_out_indices_select_stages_and_drop_the_rest():
    model = small("12_separate_downsampling")
    assert Backbone(model, out_indices=(1, 3)).feature_info.reduction() == [8, 32]
    first_two = Backbone(model, out_indices=(0, -3))
    assert first_two.feature_info.channels() == [16, 32] and len(first_two.stages) == 2
    assert first_two.reduction == 8 and [m.shape[-1] for m in first_two(torch.zeros(1, 3, 8, 16))] == [4, 2]
    assert Backbone(model, out_indices=2).feature_info.module_name() == ["stages.2", "stages.3"]  # the last two
    with pytest.raises(ValueError, match=r"stage index 4 is out of range for a network with 4 stage\(s\)"):
        Backbone(model, out_indices=(1, 4))
    with pytest.raises(ValueError, match="must name distinct stages, shallow to deep"):
        Backbone(model, out_indices=(2, 1))
    with pytest.raises(ValueError, match=r"out of range .* 1 stage\(s\).*\(isotropic: one stage, so one scale\)"):
        Backbone(small("isotropic_b"), out_indices=(0, 1))


def test_backbone_feeds_a_torchvision_fpn_and_gradients_reach_every_stage():
    model = small("12_separate_downsampling").train()
    backbone = Backbone(model)
    fpn = FeaturePyramidNetwork(backbone.feature_info.channels(), out_channels=24)
    maps = backbone(torch.randn(2, 3, 96, 64))
    pyramid = fpn(OrderedDict(zip(backbone.feature_info.module_name(), maps)))
    assert [tuple(p.shape) for p in pyramid.values()] == [(2, 24, 96 // r, 64 // r) for r in (4, 8, 16, 32)]
    sum(p.square().mean() for p in pyramid.values()).backward()
    for part in [model.stem, *model.stages]:
        grads = [p.grad for p in part.parameters()]
        assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0
    assert all(p.grad is None for p in [*model.norm.parameters(), *model.head.parameters()])  # not in the backbone


def test_backbone_scripts_traces_and_exports_and_the_program_saves_and_loads_back(tmp_path):
    model = small("12_separate_downsampling")
    backbone = Backbone(model, out_indices=(1, 2, 3))
    x, other = inputs(model)
    want = backbone(other)
    torch.export.save(_export(backbone, x, 32), tmp_path / "step12.pt2")
    loaded = torch.export.load(tmp_path / "step12.pt2").module()
    extractor = create_feature_extractor(backbone, {"stages.3": "p5"})
    for got in (torch.jit.script(backbone)(other), loaded(other)):
        for a, b in zip(got, want):
            assert_same(a, b, EXPORT_TOL)
    assert_same(extractor(other)["p5"], want[-1])
    with pytest.raises(Exception, match=r"Guard failed: x.size\(\)\[1\] == 3"):  # the program checks its inputs
        loaded(torch.zeros(1, 4, 64, 64))


# 3. The timm plugin.


def _timm_network(model: Network) -> TimmNetwork:
    twin = TimmNetwork(model.config, model.num_classes)
    twin.load_state_dict(model.state_dict())
    return twin.eval()


def test_every_step_extension_and_family_member_is_registered_with_timm():
    assert set(timm.list_models("convnext_steps_*")) == set(MODEL_NAMES)
    assert len(MODEL_NAMES) == len(ALL_STEPS) + 5
    assert model_name("05") == "convnext_steps_05_inverted_bottleneck" in MODEL_NAMES


def test_timm_create_model_features_only_as_the_issue_asks():
    kwargs = {"num_classes": 10, "drop_path_rate": 0.1, "features_only": True}
    features = timm.create_model("convnext_steps_05_inverted_bottleneck", **kwargs, **HIERARCHICAL)
    assert features.feature_info.channels() == [16, 32, 64, 128]
    assert features.feature_info.reduction() == [4, 8, 16, 32]
    assert [tuple(f.shape) for f in features(torch.randn(2, 3, 64, 64))] == [
        (2, 16, 16, 16),
        (2, 32, 8, 8),
        (2, 64, 4, 4),
        (2, 128, 2, 2),
    ]
    rates = [m.p for m in features.modules() if type(m).__name__ == "DropPath"]
    assert rates[0] == 0.0 and rates[-1] == pytest.approx(0.1)
    assert features.pretrained_cfg["input_size"] == (3, 224, 224)
    picked = timm.create_model("convnext_steps_12_separate_downsampling", features_only=True, out_indices=(1, 2))
    assert picked.feature_info.reduction() == [8, 16] and len(picked.model.stages) == 3  # the last stage is pruned
    isotropic = timm.create_model("convnext_steps_isotropic_s", features_only=True, **ISOTROPIC)
    assert isotropic.feature_info.reduction() == [16]


def test_timm_model_meets_timms_generic_expectations():
    model = timm.create_model(
        "convnext_steps_05_inverted_bottleneck", num_classes=10, drop_path_rate=0.1, **HIERARCHICAL
    )
    assert isinstance(model, TimmNetwork) and model.pretrained_cfg is model.default_cfg
    cfg = model.pretrained_cfg
    assert cfg["num_classes"] == 1000 and cfg["pool_size"] == (7, 7) and cfg["interpolation"] == "bicubic"
    assert isinstance(model.get_submodule(cfg["first_conv"]), nn.Conv2d) and model.get_submodule(cfg["classifier"])
    x = torch.randn(2, 3, 64, 64)
    model.train()(x).logsumexp(-1).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    features = model.forward_features(x)
    assert features.shape == (2, 128, 2, 2) and model.num_features == 128
    assert model.forward_head(features, pre_logits=True).shape == (2, 128)
    assert_same(model.forward_head(features), model(x))
    assert model.get_classifier() is model.head and model.head.out_features == 10
    model.reset_classifier(5)
    assert model(x).shape == (2, 5) and model.num_classes == 5
    model.reset_classifier(0)
    assert model(x).shape == (2, 128) and isinstance(model.get_classifier(), nn.Identity)
    assert timm.create_model("convnext_steps_v2_tiny", num_classes=0, **HIERARCHICAL)(x).shape == (2, 128)
    scripted = torch.jit.script(model)
    assert_same(scripted(x), model(x))


def test_timm_model_is_the_network_key_for_key_and_output_for_output():
    model = small("12_separate_downsampling")
    twin = _timm_network(model)
    assert list(twin.state_dict()) == list(model.state_dict())
    for x in inputs(model):
        assert_same(twin(x), model(x))
        assert_same(twin.forward_head(twin.forward_features(x), pre_logits=True), model.forward_features(x))


def test_every_registered_model_builds_with_its_config_on_the_meta_device():
    for name in MODEL_NAMES:
        model = timm.create_model(name, device="meta")
        cfg = model.pretrained_cfg
        assert isinstance(model.get_submodule(cfg["first_conv"]), nn.Conv2d), name
        assert model.get_submodule(cfg["classifier"]).out_features == 1000
        assert cfg["pool_size"] == (224 // model.reduction,) * 2
    assert timm.create_model("convnext_steps_convnext_base", device="meta").config.dims == (128, 256, 512, 1024)


def test_timm_refuses_what_it_cannot_give_in_one_line():
    with pytest.raises(ValueError, match="has no pretrained weights"):
        timm.create_model("convnext_steps_12_separate_downsampling", pretrained=True)
    with pytest.raises(ValueError, match=r"unknown config field\(s\) \['bn_eps'\]"):
        timm.create_model("convnext_steps_00_resnet50", bn_eps=1e-3)
    with pytest.raises(ValueError, match="global_pool must be 'avg'"):
        timm.create_model("convnext_steps_00_resnet50", global_pool="max", device="meta")
    with pytest.raises(ValueError, match="step 11_layernorm has no layer scale"):
        timm.create_model("convnext_steps_11_layernorm", layer_scale_init_value=1e-6)


def _train_script(tmp_path):
    script = tmp_path / "train.py"  # stands in for timm's train.py: creates the model named on its command line
    script.write_text(
        "import sys, timm, torch\n"
        "model = timm.create_model(sys.argv[2], num_classes=3, depths=(1, 1, 1, 1), dims=(8, 16, 32, 64), stem_dim=8)\n"
        "print(type(model).__name__, model(torch.zeros(1, 3, 32, 32)).shape[1])\n"
    )
    return [str(script), "--model", model_name("12")]


def test_runner_runs_a_script_with_the_models_registered(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["unchanged"])
    timm_models.main(_train_script(tmp_path))
    assert capsys.readouterr().out.split() == ["TimmNetwork", "3"]
    with pytest.raises(SystemExit) as usage:
        timm_models.main([])
    assert usage.value.code == 2 and "usage: python -m convnext_steps.timm_models SCRIPT.py" in capsys.readouterr().err


@pytest.mark.slow  # a fresh interpreter: imports torch and timm again
def test_runner_as_python_dash_m(tmp_path):
    run = [sys.executable, "-m", "convnext_steps.timm_models", *_train_script(tmp_path)]
    result = subprocess.run(run, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "Overwriting" not in result.stderr, result.stderr
    assert result.stdout.split() == ["TimmNetwork", "3"]


# 4. ONNX, with the exporter torch recommends (dynamo), run in onnxruntime.


@pytest.mark.parametrize("name", ["00_resnet50", "12_separate_downsampling", "v2_tiny"])
def test_onnx_export_runs_in_onnxruntime_with_the_eager_outputs(name, tmp_path):
    import onnxruntime

    model = small(name)
    x, other = inputs(model)
    spatial = {"min": 2 * model.reduction, "max": 2048}
    shapes = {"x": {0: Dim("batch", min=1, max=1024), 2: Dim("height", **spatial), 3: Dim("width", **spatial)}}
    torch.onnx.export(model, (x,), tmp_path / "model.onnx", dynamo=True, dynamic_shapes=shapes, verbose=False)
    session = onnxruntime.InferenceSession(tmp_path / "model.onnx", providers=["CPUExecutionProvider"])
    for y in (x, other):
        (logits,) = session.run(None, {"x": y.numpy()})
        assert_same(torch.from_numpy(logits), model(y).detach(), ONNX_TOL)
