"""`make figures`: every image in images/ has a builder in `figures.FIGURES`, and every builder's image is there;
builders write PNGs atomically; bad names get one clear line and exit status 2."""

import subprocess
import sys
from pathlib import Path

from convnext_steps.figures import FIGURES, save_figures

IMAGES = Path(__file__).resolve().parents[1] / "images"


def test_every_image_has_a_builder_and_every_builder_an_image():
    committed = sorted(p.relative_to(IMAGES).as_posix() for p in IMAGES.rglob("*.png"))
    assert committed == sorted(FIGURES)


def test_builders_write_pngs(tmp_path):
    names = ["norm_axes.png", "dense_vs_depthwise.png", "blocks/08_gelu.png"]
    paths = save_figures(tmp_path, names)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == names
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5_000
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temp files


def test_figures_command_rejects_unknown_names(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "convnext_steps", "figures", "--out", str(tmp_path), "nope.png"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.startswith("python -m convnext_steps figures: error: unknown figure(s) ['nope.png']; known: ")
    assert "Traceback" not in run.stderr


# Which layers a block diagram outlines: exactly those whose type, width, kernel, groups, bias or place changed ------


def _marks(step):
    from convnext_steps import diagrams
    from convnext_steps.roadmap import get_step

    step = get_step(step)
    view = diagrams.STEP_VIEWS.get(step.index, {})
    before, after = diagrams.block_ops(step.previous, **view), diagrams.block_ops(step, **view)
    described = diagrams.layer_descriptions(step.previous, **view), diagrams.layer_descriptions(step, **view)
    changed = diagrams.changed_ops(before, after, *described)
    removed = diagrams.removed_ops(before, after, *described)
    drawn_after, drawn_before = diagrams._drawn(after), diagrams._drawn(before)
    return (
        [f"{o.name} {o.label}" for o, c in zip(drawn_after, changed) if c],
        [f"{o.name} {o.label}" for o, r in zip(drawn_before, removed) if r],
    )


def test_inverted_bottleneck_outlines_every_resized_layer_and_no_activation():
    changed, removed = _marks("05")
    assert changed == [
        "pwconv1 1x1 conv, 96->384",
        "bn1 BN, 384",
        "dwconv 3x3 depthwise, 384",
        "bn2 BN, 384",
        "pwconv2 1x1 conv, 384->96",
        "bn3 BN, 96",
    ]
    assert removed == []


def test_outlines_follow_kernel_activation_bias_and_norm_changes():
    assert _marks("07") == (["dwconv 7x7 depthwise, 96"], [])
    assert _marks("08") == (["act GELU", "act GELU", "act GELU"], [])
    assert _marks("09") == ([], ["act GELU", "act GELU"])  # the GELU that stays is the same layer
    # The BN kept after the depthwise conv is unchanged (renamed bn2 -> norm); the 1x1 convs gain a bias.
    assert _marks("10") == (["pwconv1 1x1 conv, 96->384", "pwconv2 1x1 conv, 384->96"], ["bn1 BN, 384", "bn3 BN, 96"])
    assert _marks("11") == (["dwconv 7x7 depthwise, 96", "norm LN, 96"], [])  # LN, and the dwconv's new bias


def test_moved_layers_are_outlined_and_linear_equals_1x1_conv():
    assert _marks("06") == (["dwconv 3x3 depthwise, 96", "bn2 BN, 96", "act ReLU"], [])  # moved up, not removed
    changed, removed = _marks("12")
    assert "pwconv2 1x1 (linear), 768->192" not in changed and "act GELU" not in changed  # same layers, rewritten
    assert changed[:2] == ["downsample.norm LN, 96", "downsample.conv 2x2 conv, 96->192, stride 2"]
    assert "mul x gamma (layer scale)" in changed and removed == []
    assert _marks("02") == (["conv 4x4 conv, 3->64, stride 4"], ["act ReLU", "pool 3x3 max-pool, stride 2"])


def _legend_labels(fig):
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def test_legend_lists_only_what_is_drawn():
    import matplotlib.pyplot as plt

    from convnext_steps import diagrams

    stem = diagrams.step_diagram_figure("02")
    assert _legend_labels(stem) == [
        "conv (1x1 as nn.Linear too)",
        "norm",
        "activation",
        "max-pool",
        "new or changed vs. the left",
        "gone on the right",
    ]
    single = diagrams.block_diagram_figure(["12"], highlight=False)
    assert _legend_labels(single) == [
        "conv (1x1 as nn.Linear too)",
        "depthwise conv",
        "norm",
        "activation",
        "layer scale",
    ]
    plt.close("all")
    colours = diagrams.KIND_COLOURS
    assert len({colours[k] for k in ("activation", "layer scale", "pool", "norm", "conv", "depthwise conv")}) == 6


def test_roadmap_strip_highlights_this_step_and_keeps_extensions_apart():
    import matplotlib.pyplot as plt

    from convnext_steps import diagrams

    def fills(step):
        fig = diagrams.roadmap_strip(step)
        boxes = [p for p in fig.axes[0].patches]
        colours = [p.get_facecolor()[:3] for p in boxes]
        plt.close(fig)
        return colours

    seven, v2 = fills("07"), fills("v2")
    assert len(seven) == 13 + 2  # the paper's 13 steps, then notebooks 16 and 17 apart
    orange = (1.0, 127 / 255, 14 / 255)
    assert [i for i, c in enumerate(seven) if all(abs(a - b) < 1e-6 for a, b in zip(c, orange))] == [7]
    assert [i for i, c in enumerate(v2) if all(abs(a - b) < 1e-6 for a, b in zip(c, orange))] == [14]
    assert len({seven[i] for i in range(7)}) == 1 and seven[0] != seven[8]  # steps before: shaded; after: not


def test_design_diff_renders_red_and_green_with_the_plain_text_unchanged():
    from convnext_steps import design_diff
    from convnext_steps.notebook import show_design_diff

    shown = show_design_diff("12")
    text = design_diff("12").rstrip("\n")
    assert repr(shown) == text
    page = shown._repr_html_()
    assert page.startswith("<pre style=") and "white-space:pre;overflow-x:auto" in page
    assert page.count("\n") == text.count("\n")  # one line per line: nothing wrapped, nothing joined
    removed = [line for line in text.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line for line in text.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert page.count('background:#ffebe9;color:#82071e">-') == len(removed) > 0
    assert page.count('background:#dafbe1;color:#116329">+') == len(added) > 0
    assert '-&gt; <span style="background:#dafbe1' in page  # a changed config field: its new value green


def test_paper_check_and_changed_only_trace():
    from convnext_steps.notebook import paper_check, show_trace

    check = repr(paper_check("08")).splitlines()
    assert check[0] == "feature maps after the stem and stages 1-4: as step 07's"
    assert check[-1] == "our GMACs round to the paper's GFLOPs: True"
    assert (
        repr(paper_check("05"))
        .splitlines()[0]
        .endswith("(96, 56, 56), (96, 56, 56), (192, 28, 28), (384, 14, 14), (768, 7, 7)")
    )
    trace = repr(show_trace("11", changed_only=True)).splitlines()
    assert [line.split()[0] for line in trace[1:]] == ["dwconv", "norm"]
    assert trace[1].endswith("<- gains a bias") and trace[2].endswith("<- was BN, 96")
    assert repr(show_trace("09", changed_only=True)).splitlines()[1:] == ["gone: act (GELU)", "gone: act (GELU)"]


def test_changed_only_trace_says_moved_for_a_layer_that_moved_and_new_for_one_that_is_new():
    from convnext_steps.notebook import show_trace

    moved = [line.split("<- ")[1] for line in repr(show_trace("06", changed_only=True)).splitlines()[1:]]
    assert moved == ["moved here, was 3x3 depthwise, 384", "moved here, was BN, 384", "moved here"]  # dwconv, bn2, act
    renamed = repr(show_trace("03", changed_only=True)).splitlines()[1:]  # conv became dwconv: a new layer
    assert renamed[0].endswith("<- new here") and renamed[1] == "gone: conv (3x3 conv, 64->64)"


def test_operator_costs_split_every_multiply_add_and_all_the_time():
    import torch

    from convnext_steps import count_macs, get_step
    from convnext_steps.measure import OPERATOR_KINDS, operator_costs

    torch.manual_seed(0)
    model = get_step("12").build(depths=(1, 1, 1, 1), dims=(8, 16, 24, 32), stem_dim=8, num_classes=10)
    rows = operator_costs(model, image_size=64, rounds=1)
    kinds = [r["kind"] for r in rows]
    assert kinds == [k for k in OPERATOR_KINDS if k in kinds] and "depthwise conv" in kinds and "norm" in kinds
    assert sum(r["macs"] for r in rows) == count_macs(model, 64)  # every multiply-add lands in one kind
    assert {r["kind"] for r in rows if r["macs"]} == {"dense conv", "1x1 conv / linear", "depthwise conv"}
    assert abs(sum(r["time_share"] for r in rows) - 1) < 1e-6 and all(r["ms"] >= 0 for r in rows)


def test_crowded_points_share_one_label():
    from convnext_steps.plots import _label_groups

    xs, ys = [4.146, 4.146, 4.146, 2.35, 4.146], [88.0, 88.5, 89.0, 58.0, 120.0]
    assert _label_groups(xs, ys, ["07", "08", "09", "03", "12"]) == [
        (2.35, 58.0, "03"),
        (4.146, 88.5, "07-09"),
        (4.146, 120.0, "12"),
    ]


def test_fvcore_style_flops_connect_the_papers_conventions():
    """Our MACs (conv + linear) are the roadmap's convention; fvcore's extra LayerNorm and pooling FLOPs give V2-T's
    published 4.47 G exactly, and step 12 the same; neither count gives Table 10's 4.46 (step 11) or 4.49 (step 12)."""
    import torch

    from convnext_steps import count_macs, get_step
    from convnext_steps.measure import fvcore_style_flops

    with torch.device("meta"):
        models = {s: get_step(s).build() for s in ("10", "11", "12", "v2_tiny")}
    flops = {s: fvcore_style_flops(m) for s, m in models.items()}
    assert flops["v2_tiny"] == flops["12"] == 4_470_437_376  # what fvcore gives for timm's convnextv2_tiny
    assert flops["10"] == count_macs(models["10"]) + 768 * 7 * 7  # BatchNorm only: nothing but the pool is added
    assert round(flops["11"] / 1e9, 2) == 4.16 != get_step("11").paper_gflops
    assert round(flops["12"] / 1e9, 2) == 4.47 != get_step("12").paper_gflops


def test_component_legend_covers_no_bar():
    import matplotlib

    matplotlib.use("Agg")
    import torch

    from convnext_steps import ROADMAP, plots
    from convnext_steps.measure import cost_breakdown

    with torch.device("meta"):
        costs = {s.id[:2]: cost_breakdown(s.build()) for s in ROADMAP}
    fig = plots.component_costs_figure(costs)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    assert [t.get_text() for t in legends[0].get_texts()] == ["stem", "blocks", "downsampling", "head"]
    boxes = [legend.get_window_extent(renderer) for legend in legends]
    bars = [bar.get_window_extent(renderer) for ax in fig.axes for bar in ax.patches if bar.get_height() > 0]
    assert bars and not any(box.overlaps(bar) for box in boxes for bar in bars)


def test_params_macs_legend_covers_no_bar():
    import matplotlib

    matplotlib.use("Agg")
    import torch

    from convnext_steps import get_step, plots
    from convnext_steps.notebook import step_row

    with torch.device("meta"):  # notebook 04's figure: steps 02-04, counted only
        rows = [step_row(s, s.build()) for s in map(get_step, ("02", "03", "04"))]
    fig = plots.params_macs_figure(rows)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    assert [t.get_text() for t in legends[0].get_texts()] == ["ours (GMACs)", "paper (GFLOPs)"]
    boxes = [legend.get_window_extent(renderer) for legend in legends]
    bars = [bar.get_window_extent(renderer) for ax in fig.axes for bar in ax.patches if bar.get_height() > 0]
    titles = [ax.title.get_window_extent(renderer) for ax in fig.axes]
    assert bars and not any(box.overlaps(other) for box in boxes for other in bars + titles)
