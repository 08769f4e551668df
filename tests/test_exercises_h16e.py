"""The predict-first exercises of notebooks 13 and 19: computed answers, right ones accepted, wrong ones refused."""

from convnext_steps import ROADMAP, exercises


def test_13_1_the_steps_that_lose_accuracy_are_computed_from_the_roadmap():
    drops = [s.id for before, s in zip(ROADMAP, ROADMAP[1:]) if s.paper_top1 < before.paper_top1]
    assert drops == ["03_depthwise_conv", "06_dwconv_up"]
    assert exercises.expected("13.1") == (3, 6)
    assert exercises.check("13.1", (3, 6)) and exercises.check("13.1", [3, 6])


def test_13_1_refuses_wrong_answers_with_a_hint():
    assert repr(exercises.check("13.1", None)).startswith("13.1 not answered yet: ")
    for wrong in ((6, 3), (2, 3), (3,), 3, "3, 6"):
        verdict = exercises.check("13.1", wrong)
        assert verdict.ok is False and "Hint: " in repr(verdict), wrong
    assert "give 2 values" in repr(exercises.check("13.1", (3,)))


def test_19_1_the_coarsest_pyramid_map_is_what_the_notebook_gets():
    from collections import OrderedDict

    import torch
    from torchvision.ops import FeaturePyramidNetwork

    from convnext_steps.backbone import Backbone

    torch.manual_seed(0)
    small = ROADMAP[-1].build(depths=(1, 1, 1, 1), dims=(8, 16, 32, 64), stem_dim=8)  # shapes: only strides matter
    backbone = Backbone(small).eval()
    fpn = FeaturePyramidNetwork(backbone.feature_info.channels(), out_channels=256)
    with torch.no_grad():
        maps = backbone(torch.randn(2, 3, 128, 96))
        pyramid = fpn(OrderedDict(zip(backbone.feature_info.module_name(), maps)))
    assert exercises.expected("19.1") == tuple(list(pyramid.values())[-1].shape) == (2, 256, 4, 3)
    assert exercises.check("19.1", (2, 256, 4, 3))


def test_19_1_refuses_the_plausible_wrong_shapes():
    assert repr(exercises.check("19.1", None)).startswith("19.1 not answered yet: ")
    for wrong in ((2, 768, 4, 3), (2, 256, 3, 4), (2, 256, 32, 24), (256, 4, 3)):
        verdict = exercises.check("19.1", wrong)
        assert verdict.ok is False and "Hint: " in repr(verdict), wrong
