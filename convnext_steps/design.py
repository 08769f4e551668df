"""What one step changes, and nothing else: the design diff between two roadmap steps.

`design_diff(step)` compares a step with the step before it; `design_diff(a, b)` compares any two steps, from
`a` to `b`. It prints the `NetConfig` fields that change (`kernel_size: 3 -> 7`), then a unified diff of each
class whose code changes (stem, block, shortcut, downsampling layer, norm), each against the class it replaces
in the same place of the network. A class that the earlier network does not use at all is shown whole, as
added; one the later network no longer uses, as removed. Where a step is written on top of an equivalent
rewrite of the class it replaces (`steps/rewrites.py`), the rewrite is shown as its own, labelled part.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import re
import textwrap
from pathlib import Path

import torch

from .roadmap import Step, get_step
from .steps.rewrites import REWRITES

__all__ = ["design_diff", "changed_lines", "config_changes", "component_classes"]


def _name(value) -> str:
    """How a config value reads in the diff: classes by module and name, partials with their arguments."""
    if isinstance(value, functools.partial):
        args = [_name(a) for a in value.args] + [f"{k}={v!r}" for k, v in value.keywords.items()]
        return f"{_name(value.func)}({', '.join(args)})"
    if isinstance(value, type):
        module = value.__module__
        if module.startswith("torch.nn"):
            return f"nn.{value.__qualname__}"
        return f"{module.rsplit('.', 1)[-1]}.{value.__qualname__}"
    if callable(value):
        return f"{value.__module__.rsplit('.', 1)[-1]}.{value.__qualname__}"
    return repr(value)


def config_changes(a: Step, b: Step) -> list[tuple[str, str, str]]:
    """(field, value in a, value in b) for every NetConfig field that differs, in field order."""
    changes = []
    for field in dataclasses.fields(a.config):
        old, new = getattr(a.config, field.name), getattr(b.config, field.name)
        if old != new:
            changes.append((field.name, _name(old), _name(new)))
    return changes


def _ours(cls: type) -> bool:
    return cls.__module__.startswith("convnext_steps.")


def _role(name: str) -> str:
    """A module's place in the network, without block and stage numbers: stages.*.blocks.*.shortcut."""
    return re.sub(r"(?<=\.)\d+(?=\.|$)|^\d+(?=\.|$)", "*", name)


def component_classes(step: Step) -> dict[str, list[type]]:
    """role -> this package's classes used there, in the order the network registers them.

    The network is built on the meta device: structure only, no memory, no initialisation cost.
    """
    with torch.device("meta"):
        model = step.build()
    roles: dict[str, list[type]] = {}
    for name, module in model.named_modules():
        cls = type(module)
        if name and _ours(cls):
            classes = roles.setdefault(_role(name), [])
            if cls not in classes:
                classes.append(cls)
    return roles


def _source(cls: type) -> list[str]:
    return textwrap.dedent(inspect.getsource(cls)).splitlines(keepends=True)


def _label(cls: type) -> str:
    path = Path(inspect.getsourcefile(cls)).resolve()
    package = Path(__file__).resolve().parent
    return f"{path.relative_to(package.parent).as_posix()}: {cls.__qualname__}"


def _class_diff(old: type | None, new: type | None, title: str) -> str:
    before = _source(old) if old is not None else []
    after = _source(new) if new is not None else []
    lines = difflib.unified_diff(
        before, after, fromfile=_label(old) if old else "/dev/null", tofile=_label(new) if new else "/dev/null", n=2
    )
    return f"{title}\n" + "".join(lines)


def _pairs(a: Step, b: Step) -> tuple[list[tuple[type, type]], list[type], list[type]]:
    """Classes replaced (same role, other class), added (not used anywhere in a) and removed (nowhere in b)."""
    old_roles, new_roles = component_classes(a), component_classes(b)
    used_a = {c for cs in old_roles.values() for c in cs}
    used_b = {c for cs in new_roles.values() for c in cs}
    replaced, added, removed = [], [], []
    for role in list(dict.fromkeys([*new_roles, *old_roles])):
        olds, news = old_roles.get(role, []), new_roles.get(role, [])
        if len(olds) == 1 and len(news) == 1 and olds[0] is not news[0]:
            if (olds[0], news[0]) not in replaced:
                replaced.append((olds[0], news[0]))
    paired_new = {n for _, n in replaced}
    paired_old = {o for o, _ in replaced}
    for cs in new_roles.values():
        added += [c for c in cs if c not in used_a and c not in paired_new and c not in added]
    for cs in old_roles.values():
        removed += [c for c in cs if c not in used_b and c not in paired_old and c not in removed]
    return replaced, added, removed


def design_diff(a: int | str | Step, b: int | str | Step | None = None) -> str:
    """What changes from step `a` to step `b`; with `b` left out, from the step before `a` to `a`.

    Steps are given as for `build_model`: an index, an id or an unambiguous id prefix.
    """
    if b is None:
        new = get_step(a)
        if new.previous is None:
            raise ValueError(
                f"step {new.id} is the starting point: there is no step before it to diff against "
                "(give two steps to compare it with another one)"
            )
        old = get_step(new.previous)
    else:
        old, new = get_step(a), get_step(b)
    parts = [f"design diff: {old.id} -> {new.id}"]
    if old is new:
        return parts[0] + "\n\nthe same step: nothing changes\n"
    config = config_changes(old, new)
    parts.append(
        "config (NetConfig fields that change):\n"
        + "".join(f"  {field}: {before} -> {after}\n" for field, before, after in config)
    )
    replaced, added, removed = _pairs(old, new)
    neighbours = b is None
    for before, after in replaced:
        rewrite = REWRITES.get(before) if neighbours else None
        if rewrite is not None and rewrite is not after:
            parts.append(
                _class_diff(before, rewrite, "equivalent rewrite (same parameters, same outputs; not a design change):")
            )
            before = rewrite
        parts.append(_class_diff(before, after, "class changed:"))
    parts += [_class_diff(None, cls, "class added:") for cls in added]
    parts += [_class_diff(cls, None, "class removed:") for cls in removed]
    if not (replaced or added or removed):
        parts.append("no class changes: the same code, configured differently\n")
    return "\n".join(part.rstrip("\n") + "\n" for part in parts)


def changed_lines(diff: str) -> int:
    """The lines a design diff changes: config field lines plus the +/- lines of its class diffs."""
    count = 0
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            continue
        if line.startswith(("+", "-")) or re.match(r"  \w+: .* -> ", line):
            count += 1
    return count
