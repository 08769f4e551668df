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
