"""What every exercise shares: the verdict, the two kinds of exercise, and the behavioural checkers.

Two kinds:

- `Exercise`: predict or compute a number (or a tuple, or a word). Its right answer is computed from the package
  when it is checked, never typed in; a wrong answer gets a hint (too high / too low, what to count).
- `BuildIt`: write code (a class, a config). Its `judge` runs the learner's code and returns one line saying what
  is wrong, or None. `check_module` is the judge of a module by behaviour: it builds our reference and the
  learner's class with the same arguments, compares their parameters (names, shapes, count), loads the reference
  weights into the learner's module, compares outputs on several inputs (batch 1, non-square, more than one size),
  recognises the plausible mistakes it is given, and then checks the property the step is about.

Whatever the learner's code raises is caught and reported in one line (type, message, the learner's line); a
skeleton that still raises `NotImplementedError` is "not attempted yet", never shown the answer.
"""

from __future__ import annotations

import linecache
import math
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..measure import count_params, stage_shapes
from ..network import NetConfig, Network
from ..roadmap import build_model, get_step

__all__ = [
    "Verdict",
    "Exercise",
    "BuildIt",
    "Case",
    "Mistake",
    "NotAttempted",
    "Wrong",
    "check_module",
    "build",
    "run",
    "meta_model",
    "in_network",
    "record",
    "block_cases",
    "check_config",
]


class Verdict:
    """The result of a check: truthy when right (`ok` is None when not answered yet); shows as its one-line message."""

    def __init__(self, ok: bool | None, message: str):
        self.ok, self.message = ok, message

    def __bool__(self) -> bool:
        return bool(self.ok)

    def __repr__(self) -> str:
        return self.message

    __str__ = __repr__


class NotAttempted(Exception):
    """The learner's skeleton still raises NotImplementedError (or the answer is None)."""


class Wrong(Exception):
    """One line saying what is wrong with the learner's code; judges may raise it from deep inside."""


# Numeric and predict exercises ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exercise:
    id: str  # "07.1": notebook 07, first exercise
    question: str
    expected: Callable[[], Any]  # computes the right answer from the package
    why: str  # the reasoning, shown with a right answer
    hint: str  # what to count or look at, shown with a wrong one
    tolerance: float = 0.0  # relative, for numbers; 0: exact
    unit: str = ""
    digits: int = 3  # decimals a float answer is shown with

    def check(self, answer: Any) -> Verdict:
        if answer is None:
            return Verdict(None, f"{self.id} not answered yet: replace None with your answer and run the cell again.")
        want = self.expected()
        if _close(answer, want, self.tolerance):
            return Verdict(True, f"{self.id} right: {_show(want, self)}. {self.why}")
        return Verdict(False, f"{self.id} not yet: {answer!r}: {_direction(answer, want)}. Hint: {self.hint}")


def _close(given: Any, want: Any, tolerance: float) -> bool:
    if isinstance(want, (tuple, list)):
        return (
            isinstance(given, (tuple, list))
            and len(given) == len(want)
            and all(_close(g, w, tolerance) for g, w in zip(given, want))
        )
    if isinstance(want, str):
        return isinstance(given, str) and given.strip().lower() == want.lower()
    if isinstance(given, bool) or not isinstance(given, (int, float)):
        return False
    return math.isclose(given, want, rel_tol=tolerance, abs_tol=0.0) if tolerance else given == want


def _direction(given: Any, want: Any) -> str:
    if isinstance(want, (int, float)) and isinstance(given, (int, float)) and not isinstance(given, bool):
        return "too high" if given > want else "too low"
    if isinstance(want, (tuple, list)) and not (isinstance(given, (tuple, list)) and len(given) == len(want)):
        return f"give {len(want)} values, as ({', '.join('...' for _ in want)})"
    return "not the answer"


def _show(value: Any, exercise: Exercise) -> str:
    if isinstance(value, float):
        text = f"{value:.{exercise.digits}f}"
    elif isinstance(value, int) and not isinstance(value, bool):
        text = f"{value:,}"
    elif isinstance(value, tuple):
        shown = (f"{v:,}" if isinstance(v, int) else f"{v:.3g}" if isinstance(v, float) else str(v) for v in value)
        text = "(" + ", ".join(shown) + ")"
    else:
        text = str(value)
    return f"{text} {exercise.unit}".rstrip()


# Build-it exercises -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildIt:
    id: str  # "05.2"
    question: str  # what to write (the notebook's markdown says it at length)
    judge: Callable[[Any], str | None]  # runs the learner's code: one line saying what is wrong, or None
    reference: Callable[[], Any]  # our solution (a class, a config), for tests and `expected`
    why: str  # shown with a right answer: what the learner's code now does, and why it matters
    kind: str = "class"  # what the learner hands in, for the "not attempted" line
    step: str | None = None  # the step whose network the learner's code goes into (`in_network`)
    field: str | None = "block"  # the config field it fills; None: the learner hands in the whole NetConfig
    unchanged: Callable[[Any], str | None] | None = None  # find-the-bug: recognises the buggy version as handed
    # out and says what the bug does (its consequence, not its place): "not attempted yet", never the fix
    into: Callable[[Any], dict[str, Any]] | None = None  # config fields made from the learner's code (a layer
    # used inside the step's classes, e.g. a norm: the classes rebuilt around it); default {field: the code}

    @property
    def expected(self) -> Callable[[], Any]:
        return self.reference

    def check(self, candidate: Any) -> Verdict:
        if candidate is None:
            return self._not_attempted()
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # the checks run tiny tensors: threads only cost (on a busy CPU, 50x)
        try:
            still = self.unchanged(candidate) if self.unchanged is not None else None
            if still:
                return Verdict(None, f"{self.id} not attempted yet: this is still the buggy version: {still}")
            problem = self.judge(candidate)
        except NotAttempted:
            return self._not_attempted()
        except Wrong as wrong:
            problem = str(wrong)
        finally:
            torch.set_num_threads(threads)
        if problem:
            return Verdict(False, f"{self.id} not yet: {problem}")
        return Verdict(True, f"{self.id} right: {self.why}")

    def _not_attempted(self) -> Verdict:
        return Verdict(
            None,
            f"{self.id} not attempted yet: write the {self.kind}'s code where it says `# your code here` "
            "and run the cell again.",
        )


@torch.no_grad()
def in_network(exercise: BuildIt, candidate: Any, image_size: int = 64, batch: int = 1) -> Verdict:
    """Put the learner's solved class into its step's network (through the step's config) and compare the whole
    model with the step's: parameter names, shapes and count, then logits with the same weights.

    Not solved yet: "skipped: exercise NN.k not solved yet" (deterministic, so a notebook runs before it is solved).
    """
    if exercise.step is None:
        raise ValueError(f"exercise {exercise.id} does not go into a network")
    if not exercise.check(candidate):
        return Verdict(None, f"skipped: exercise {exercise.id} not solved yet")
    step = get_step(exercise.step)
    if exercise.into is not None:
        config = step.config.replace(**exercise.into(candidate))
    else:
        config = candidate if exercise.field is None else step.config.replace(**{exercise.field: candidate})
    with torch.device("meta"):  # built without their init (slow for 25 M weights): the weights are drawn below
        reference = step.build()
    weights = _random_state(reference, seed=7)
    reference.load_state_dict(weights, assign=True)
    try:
        with torch.device("meta"):
            mine = run("building the network from your config", Network, config)
        _compare_parameters(mine, reference, {})
        run("loading the step's weights into your network", mine.load_state_dict, weights, assign=True)
        x = _inputs((batch, step.config.in_chans, image_size, image_size), seed=3)
        want = reference.eval()(x)
        got = run("your network's forward", mine.eval(), x)
    except Wrong as wrong:
        return Verdict(False, f"in step {step.id}'s network: {wrong}")
    problem = _compare_output(got, want, tuple(x.shape), 1e-4, "your network")
    if problem:
        return Verdict(False, f"in step {step.id}'s network: {problem}")
    name = getattr(candidate, "__name__", "config")
    n = sum(p.numel() for p in mine.parameters())
    return Verdict(
        True,
        f"your {name} in step {step.id}'s network: {n:,} parameters and, with the same weights, the same logits as "
        f"the step's model on a {image_size}x{image_size} image (max |diff| < 1e-4)",
    )


# Running the learner's code ---------------------------------------------------------------------------------------

_OURS = (Path(torch.__file__).parent, Path(__file__).resolve().parents[1])  # torch's and this package's files


def _where(error: BaseException) -> str:
    """`line 7 in forward: out = self.conv(out)` for the learner's last frame in the traceback ("" if none)."""
    frames = traceback.extract_tb(error.__traceback__)
    for frame in reversed(frames):
        path = Path(frame.filename)
        if not any(path.is_relative_to(root) for root in _OURS if path.is_absolute()):
            text = (frame.line or linecache.getline(frame.filename, frame.lineno)).strip()
            return (
                f" (line {frame.lineno} in {frame.name}: {text})" if text else f" (line {frame.lineno} in {frame.name})"
            )
    return ""


def run(what: str, fn: Callable[..., Any], *args, **kwargs) -> Any:
    """Call the learner's code; NotImplementedError -> NotAttempted, any other error -> Wrong, in one line."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as error:
        raise NotAttempted from error
    except (NotAttempted, Wrong):
        raise
    except Exception as error:  # the learner's code may raise anything; report it, don't crash the notebook
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise Wrong(f"{what} raised {type(error).__name__}: {message}{_where(error)}") from error


def _signature(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in args.items())


def build(cls: Any, args: dict[str, Any], seed: int = 0) -> nn.Module:
    """`cls(**args)` under a fixed seed, checked to be an nn.Module; errors as one line."""
    if not isinstance(cls, type):
        raise Wrong(f"expected a class (hand in the class itself, not an instance or a call), got {type(cls).__name__}")
    torch.manual_seed(seed)
    module = run(f"{cls.__name__}({_signature(args)})", cls, **args)
    if not isinstance(module, nn.Module):
        raise Wrong(f"{cls.__name__} is not an nn.Module: derive it from nn.Module and call super().__init__()")
    return module


# The module checker -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """Constructor arguments and the input shapes to compare outputs on."""

    args: dict[str, Any]
    inputs: tuple[tuple[int, ...], ...]
    train: bool = False  # compare in training mode (batch statistics, drop path), the RNG seeded alike
    scale: float = 1.0  # the inputs' standard deviation (small activations show a norm's eps)


def block_cases(
    dim: int = 32, in_dim: int = 16, kernel_size: int = 3, other_kernel: int | None = 5
) -> tuple[Case, ...]:
    """Cases for a block `cls(in_dim, dim, kernel_size, stride, drop_path)`: an identity-shortcut block on batch 1 and
    non-square inputs of two sizes, a downsampling one that widens (stride 2, odd sizes), one with another kernel
    size (a hard-coded kernel shows), and one in training mode with drop path 0.5 (a forgotten drop path shows)."""
    cases = [
        Case(
            dict(in_dim=dim, dim=dim, kernel_size=kernel_size, stride=1, drop_path=0.0),
            ((1, dim, 9, 13), (2, dim, 6, 6)),
        ),
        Case(
            dict(in_dim=in_dim, dim=dim, kernel_size=kernel_size, stride=2, drop_path=0.0),
            ((1, in_dim, 9, 13), (2, in_dim, 12, 10)),
        ),
    ]
    if other_kernel is not None:
        cases.append(
            Case(dict(in_dim=dim, dim=dim, kernel_size=other_kernel, stride=1, drop_path=0.0), ((1, dim, 11, 7),))
        )
    cases.append(
        Case(dict(in_dim=dim, dim=dim, kernel_size=kernel_size, stride=1, drop_path=0.5), ((4, dim, 5, 6),), True)
    )
    return tuple(cases)


@dataclass(frozen=True)
class Mistake:
    """A plausible mistake, as what it computes: `forward(reference_module, x)` with the reference's own layers.

    When the learner's outputs equal a mistake's, the checker says `message` instead of a bare difference.
    """

    message: str
    forward: Callable[[nn.Module, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class _Options:
    hints: dict[str, str] = field(default_factory=dict)
    atol: float = 1e-4


def _shape(t: torch.Size | tuple) -> str:
    return str(tuple(t))


def _conv_hint(name: str, got: tuple[int, ...], want: tuple[int, ...]) -> str:
    """Why a conv weight (out, in / groups, kh, kw) has another shape than ours."""
    if len(got) != 4 or len(want) != 4:
        return ""
    if got[2:] != want[2:]:
        return f": its kernel is {got[2]}x{got[3]}, ours {want[2]}x{want[3]} (use the kernel_size argument)"
    if got[0] != want[0]:
        return f": it has {got[0]} output channels, ours {want[0]}"
    if want[1] == 1 and got[1] > 1:
        return (
            f": each filter sees {got[1]} input channels; a depthwise conv has groups = channels, "
            "so each filter sees 1 (weight (C, 1, k, k))"
        )
    if got[1] == 1 and want[1] > 1:
        return f": each filter sees 1 input channel (depthwise), ours sees {want[1]} (a dense conv, groups=1)"
    return f": each filter sees {got[1]} input channels, ours {want[1]} (check its input width and groups)"


def _compare_parameters(candidate: nn.Module, reference: nn.Module, hints: dict[str, str]) -> None:
    n_got = sum(p.numel() for p in candidate.parameters())
    n_want = sum(p.numel() for p in reference.parameters())
    counts = f" ({n_got:,} parameters, ours {n_want:,})" if n_got != n_want else ""
    for kind, named in (("parameter", nn.Module.named_parameters), ("buffer", nn.Module.named_buffers)):
        got = {n: tuple(t.shape) for n, t in named(candidate)}
        want = {n: tuple(t.shape) for n, t in named(reference)}
        missing = [n for n in want if n not in got]
        extra = [n for n in got if n not in want]
        for name in extra:  # a bias where ours has none is the common case: say so plainly
            owner = name.rpartition(".")[0]
            if name.endswith(".bias") and f"{owner}.weight" in want and f"{owner}.bias" not in want:
                raise Wrong(
                    f"`{owner}` has a bias; ours has none (bias=False: the norm after it shifts anyway){counts}"
                )
        if missing:
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            yours = f"; yours has {', '.join(f'`{n}`' for n in extra[:3])}" if extra else ""
            raise Wrong(
                f"missing {kind} `{missing[0]}` (shape {_shape(want[missing[0]])}){more}{yours}{counts}: "
                "name the layers as the skeleton does"
            )
        if extra:
            more = f" and {len(extra) - 1} more" if len(extra) > 1 else ""
            raise Wrong(f"unexpected {kind} `{extra[0]}` (shape {_shape(got[extra[0]])}){more}{counts}")
        for name, shape in want.items():
            if got[name] != shape:
                hint = _conv_hint(name, got[name], shape)
                if name in hints:
                    hint = f"{hint}; {hints[name]}" if hint else f": {hints[name]}"
                raise Wrong(f"`{name}` has shape {_shape(got[name])}, ours {_shape(shape)}{hint}{counts}")


@torch.no_grad()
def _randomise(module: nn.Module, seed: int) -> None:
    """Give norms non-trivial scales, shifts and running statistics, so that where a norm sits shows in the output."""
    generator = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
            m.running_mean.copy_(0.3 * torch.randn(m.running_mean.shape, generator=generator))
            m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=generator))
        for name in ("weight", "bias", "gamma", "beta"):
            p = getattr(m, name, None)
            if isinstance(p, nn.Parameter) and isinstance(
                m, (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)
            ):
                base = 1.0 if name in ("weight", "gamma") else 0.0
                p.copy_(base + 0.3 * torch.randn(p.shape, generator=generator))


@torch.no_grad()
def _random_state(model: nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """A state dict of random weights for `model` (may be on the meta device), at a scale that keeps activations
    finite through a deep network, with norms given non-trivial scales, shifts and statistics."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, t in model.state_dict().items():
        if t.is_floating_point():
            fan_in = t[0].numel() if t.ndim > 1 else 0
            state[name] = torch.randn(t.shape, generator=generator) * (fan_in**-0.5 if fan_in else 0.02)
        else:
            state[name] = torch.zeros(t.shape, dtype=t.dtype)
    for prefix, m in model.named_modules():
        key = f"{prefix}." if prefix else ""
        if isinstance(m, (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)):
            for name, base in (("weight", 1.0), ("bias", 0.0)):
                if key + name in state:
                    state[key + name] = base + 0.3 * torch.randn(state[key + name].shape, generator=generator)
            if key + "running_var" in state:
                state[key + "running_mean"] = 0.3 * torch.randn(state[key + "running_mean"].shape, generator=generator)
                state[key + "running_var"] = 0.5 + torch.rand(state[key + "running_var"].shape, generator=generator)
    return state


def _inputs(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def check_module(
    candidate: Any,
    reference: type,
    cases: Sequence[Case],
    mistakes: Sequence[Mistake] = (),
    properties: Sequence[Callable[[nn.Module, Case], str | None]] = (),
    hints: dict[str, str] | None = None,
    atol: float = 1e-4,
    what: str = "your block",
    every_case: bool = False,
) -> str | None:
    """Judge the learner's module class `candidate` by behaviour against `reference`; None when it is right.

    For each case: build both with the same arguments and seed; compare parameter names, shapes and count; load
    the reference's weights (norms given non-trivial statistics) into the candidate; compare outputs in eval mode on
    each input shape. An output that equals one of the `mistakes` gets that mistake's message; any other difference
    gets its size and the input it showed on. Then each property (`fn(candidate_module, case) -> problem or None`)
    is checked on the first case's module (`every_case`: on each case's). Raises `NotAttempted` for an untouched
    skeleton.
    """
    try:
        return _check_module(candidate, reference, cases, mistakes, properties, hints or {}, atol, what, every_case)
    except Wrong as wrong:
        return str(wrong)


def _check_module(candidate, reference, cases, mistakes, properties, hints, atol, what, every_case) -> str | None:
    checked: list[tuple[nn.Module, Case]] = []
    for i, case in enumerate(cases):
        ref = build(reference, case.args, seed=i)
        _randomise(ref, seed=100 + i)
        mine = build(candidate, case.args, seed=i)
        _compare_parameters(mine, ref, hints)
        run("loading our weights into your module", mine.load_state_dict, ref.state_dict())
        ref.train(case.train), mine.train(case.train)
        mode = " in training mode" if case.train else ""
        for j, shape in enumerate(case.inputs):
            x = _inputs(shape, seed=1000 * i + j) * case.scale
            with torch.no_grad():
                torch.manual_seed(j)
                want = ref(x.clone())
                torch.manual_seed(j)
                try:
                    got = run(f"{what}'s forward{mode} on an input {_shape(shape)}", mine, x.clone())
                except Wrong as error:  # a mistake that raises the same error is named, with the error
                    known = _raises_like(error, mistakes, ref, x, j)
                    if known:
                        return known
                    raise
            problem = _compare_output(got, want, shape, atol, what)
            if problem:
                for mistake in mistakes:
                    with torch.no_grad():
                        try:
                            torch.manual_seed(j)
                            wrong = mistake.forward(ref, x.clone())
                        except RuntimeError:  # the mistake cannot run on this input: it is not this one
                            continue
                    if _compare_output(got, wrong, shape, atol, what) is None:
                        return mistake.message
                return f"{problem}{mode} ({_signature(case.args)})"
        checked.append((mine, case))
    for prop in properties:
        for module, case in checked if every_case else checked[:1]:
            problem = prop(module, case)
            if problem:
                return problem
    return None


@torch.no_grad()
def record(module: nn.Module, x: torch.Tensor) -> list[tuple[str, tuple[int, ...], tuple[int, ...]]]:
    """(name, input shape, output shape) of every submodule call in one eval-mode forward, in call order."""
    calls: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []
    names = {m: n for n, m in module.named_modules() if n}

    def hook(m, args, output):
        if args and isinstance(args[0], torch.Tensor) and isinstance(output, torch.Tensor):
            calls.append((names[m], tuple(args[0].shape), tuple(output.shape)))

    handles = [m.register_forward_hook(hook) for m in names]
    try:
        module.eval()(x)
    finally:
        for handle in handles:
            handle.remove()
    return calls


def _raises_like(error: Wrong, mistakes: Sequence[Mistake], ref: nn.Module, x: torch.Tensor, seed: int) -> str | None:
    cause = error.__cause__
    for mistake in mistakes:
        try:
            with torch.no_grad():
                torch.manual_seed(seed)
                mistake.forward(ref, x.clone())
        except Exception as theirs:  # noqa: BLE001 -- the same failure as the learner's
            if type(theirs) is type(cause) and str(theirs) == str(cause):
                return f"{mistake.message} ({type(cause).__name__}{_where(cause)})"
    return None


def _compare_output(got: Any, want: torch.Tensor, shape: tuple[int, ...], atol: float, what: str) -> str | None:
    if not isinstance(got, torch.Tensor):
        return f"{what} returned a {type(got).__name__}, expected a tensor"
    if got.shape != want.shape:
        return f"for an input {_shape(shape)} {what} returns shape {_shape(got.shape)}, ours {_shape(want.shape)}"
    if got.dtype != want.dtype:
        return f"{what} returns {got.dtype}, ours {want.dtype}"
    diff = (got - want).abs()
    if not torch.isfinite(got).all():
        return f"{what} returns inf or nan for an input {_shape(shape)}"
    worst = diff.max().item()
    if worst > atol * (1 + want.abs().max().item()):
        return f"output differs from ours by up to {worst:.2g} for an input {_shape(shape)}"
    return None


# The config checker -----------------------------------------------------------------------------------------------


def check_config(
    candidate: Any, step: str, explain: Callable[[nn.Module, nn.Module], str | None] | None = None
) -> str | None:
    """Judge a learner's `NetConfig` for `step` by the network it builds (on the meta device): `explain(mine, ours)`
    first says in the step's terms what differs; then any field that differs from the step's config is named; then
    blocks per stage, stage shapes at 224 and parameters are compared. None when right."""
    if candidate is None:
        raise NotAttempted
    if not isinstance(candidate, NetConfig):
        return f"expected a NetConfig (the previous step's, changed with .replace(...)), got {type(candidate).__name__}"
    reference = get_step(step)
    with torch.device("meta"):
        ours = reference.build()
        try:
            mine = run("building a network from your config", Network, candidate)
        except Wrong as wrong:
            return str(wrong)
    if explain is not None:
        problem = explain(mine, ours)
        if problem:
            return problem
    for name in candidate.__dataclass_fields__:
        given, want = getattr(candidate, name), getattr(reference.config, name)
        if callable(want) or callable(given):  # a class or a function: judged by the network it builds, below
            continue
        if (tuple(given) if isinstance(given, list) else given) != want:
            return f"`{name}` is {given!r}, step {reference.id}'s {want!r}: change only what the step changes"
    blocks = tuple(len(s.blocks) for s in mine.stages)
    if blocks != tuple(len(s.blocks) for s in ours.stages):
        return f"your network's stages hold {blocks} blocks, step {reference.id}'s {tuple(ours.config.depths)}"
    shapes, want = stage_shapes(mine), stage_shapes(ours)
    if shapes != want:
        return f"your network's stem and stages give {shapes} at 224x224, step {reference.id}'s {want}"
    if count_params(mine) != count_params(ours):
        return f"your network has {count_params(mine):,} parameters, step {reference.id}'s {count_params(ours):,}"
    got = {n: tuple(t.shape) for n, t in mine.state_dict().items()}
    want = {n: tuple(t.shape) for n, t in ours.state_dict().items()}
    if got != want:
        name = next(n for n in [*want, *got] if got.get(n) != want.get(n))
        return (
            f"your network's `{name}` is {got.get(name, 'missing')}, step {reference.id}'s {want.get(name, 'absent')}"
        )
    return None


# Answers computed from the package --------------------------------------------------------------------------------


def meta_model(step: str, **overrides) -> nn.Module:
    """A step's network on the meta device: structure and counts, no weights, no cost."""
    with torch.device("meta"):
        return build_model(step, **overrides)
