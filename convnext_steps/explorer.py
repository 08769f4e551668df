"""The design-space explorer: ResNet-50 plus any set of the roadmap's changes, not only the paper's one order.

A *variant* is a set of changes. Each change is named by its id or its short name; step 12's bundle is split into
its three parts (`12a` separate downsampling layers, `12b` the head norm, `12c` layer scale) and the id `12` names
all three. ConvNeXt-T minus some changes is the same thing seen from the other end (`without=`). The order in
which changes are listed never matters: a variant is the set.

>>> from convnext_steps.explorer import build_variant, variant_name
>>> model = build_variant("02,03,07,11")            # ResNet-50 + patchify stem + depthwise 7x7 + LayerNorm
>>> model = build_variant(without="layer_scale")    # ConvNeXt-T without layer scale
>>> variant_name({"07", "03", "02"})
'resnet50+02+03+07'

Each change has one meaning in every context (the table is `CHANGES`; docs/explorer.md prints it):

| id  | name                  | meaning |
|-----|-----------------------|---------|
| 01  | stage_ratio           | blocks per stage (3, 4, 6, 3) -> (3, 3, 9, 3) |
| 02  | patchify_stem         | the stem (7x7/2 conv, norm, activation, 3x3/2 max-pool) -> a 4x4/4 conv and a norm |
| 03  | depthwise_conv        | the block's k x k conv becomes depthwise (groups = its channels), wherever it sits |
| 04  | wider_96              | base width 64 -> 96: the stem and every stage 1.5x wider |
| 05  | inverted_bottleneck   | the block keeps the stage width at its ends and is 4x wider inside (was 4x narrower) |
| 06  | dwconv_up             | the k x k conv (with its norm) moves to the top, on the block's input width |
| 07  | kernel_7x7            | the k x k conv is 7x7 (the `kernel_size=` override sets any odd size) |
| 08  | gelu                  | every ReLU (blocks and the ResNet stem's) becomes a GELU |
| 09  | fewer_activations     | a block keeps only the activation after pwconv1: none after the k x k conv or the sum |
| 10  | fewer_norms           | a block keeps only the norm after the k x k conv (`norm`), of its three |
| 11  | layernorm             | every BatchNorm (stem, blocks, shortcuts, downsampling, head) -> channels LayerNorm |
| 12a | separate_downsampling | stages 2-4 start with a norm + 2x2/2 conv layer; no block changes resolution |
| 12b | head_norm             | a norm on the pooled features before the classifier |
| 12c | layer_scale           | each block's branch is multiplied by a learned per-channel gain (1e-6 at init) |

Two rules hold in every variant, as in every step: a conv has a bias unless a BatchNorm follows it, and a block
that changes width or resolution has a 1x1 projection shortcut (with a norm of the network's kind), the identity
elsewhere. Every norm is of one kind: BatchNorm, or LayerNorm over channels with 11.

Every prefix of the roadmap's order is its step: ResNet-50 + changes 01..k has the step's parameter names, count,
multiply-adds and (with the step's weights, or from the same seed) identical logits (tests/test_explorer.py). For
that the block is written as the official code writes it (channels-last, `nn.LayerNorm`, the 1x1 convs as
`nn.Linear`), exactly where step 12 writes it: with 06, 10, 11 and 12a. That form is not a design change (the
same function, `steps/rewrites.py`): it changes only the 1x1 weights' shapes, (out, in) for (out, in, 1, 1).

Under these meanings every one of the 2^14 sets is a valid network (`valid_combinations()` counts them). What the
build refuses: unknown names, an empty text, `changes=` and `without=` together, and config overrides that
contradict the set (`layer_scale_init_value` without 12c names the change it needs; `block`, `stem`,
`downsample`, `head_norm`, `stem_stride` are the set's to choose).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from .layers import LN_EPS, DropPath, LayerNorm2d
from .network import NetConfig, Network
from .roadmap import ROADMAP, STEP_IDS

__all__ = [
    "Change",
    "CHANGES",
    "CHANGE_IDS",
    "GROUPS",
    "PREFIXES",
    "parse_changes",
    "build_variant",
    "variant_config",
    "variant_name",
    "variant_title",
    "variant_step",
    "valid_combinations",
    "check_changes",
    "BlockSpec",
    "Stem",
    "Shortcut",
    "Block",
    "Downsample",
]


@dataclass(frozen=True)
class Change:
    id: str  # "01" .. "11", "12a", "12b", "12c"
    name: str  # short name, e.g. "kernel_7x7"
    meaning: str  # one sentence: what it does in any variant
    step: str  # the roadmap step that makes it
    brings: str = ""  # what a variant with it has, in plain words: "7x7 kernel"
    instead: str = ""  # what a variant without it has in its place: "3x3 kernel"


# (id, name, meaning): one row per atomic change, in the roadmap's order.
_ROWS = (
    ("01", "stage_ratio", "Blocks per stage (3, 4, 6, 3) become (3, 3, 9, 3), Swin-T's 1:1:3:1."),
    (
        "02",
        "patchify_stem",
        "The stem (7x7 stride-2 conv, norm, activation, 3x3 stride-2 max-pool) becomes a 4x4 stride-4 conv "
        "and a norm: the same 4x reduction, without overlap, activation or pool.",
    ),
    (
        "03",
        "depthwise_conv",
        "The block's k x k conv becomes depthwise (groups = its channels) wherever it sits, and is named dwconv.",
    ),
    ("04", "wider_96", "The base width goes from 64 to 96: the stem and every stage are 1.5x wider."),
    (
        "05",
        "inverted_bottleneck",
        "The block keeps the stage width (base x 1, 2, 4, 8) at its ends and is 4x wider inside, instead of "
        "4x narrower inside a 4x wider stage.",
    ),
    (
        "06",
        "dwconv_up",
        "The k x k conv (with its norm and activation) moves to the top of the block, before the two 1x1 "
        "convs, on the block's input width.",
    ),
    ("07", "kernel_7x7", "The block's k x k conv is 7x7 instead of 3x3."),
    ("08", "gelu", "Every ReLU becomes a GELU, in the blocks and in the ResNet stem."),
    (
        "09",
        "fewer_activations",
        "A block keeps one activation, the one after pwconv1: none after the k x k conv, none after the sum.",
    ),
    (
        "10",
        "fewer_norms",
        "A block keeps one norm of its three, the one after the k x k conv (named norm); the 1x1 convs get a bias.",
    ),
    (
        "11",
        "layernorm",
        "Every BatchNorm (stem, blocks, shortcuts, downsampling layers, head norm) becomes a LayerNorm over channels.",
    ),
    (
        "12a",
        "separate_downsampling",
        "Stages 2-4 start with a separate layer (norm, then a 2x2 stride-2 conv) instead of a stride-2 first "
        "block with a projection shortcut.",
    ),
    ("12b", "head_norm", "A norm of the network's kind on the pooled features, before the classifier."),
    (
        "12c",
        "layer_scale",
        "Each block's residual branch is multiplied by a learned per-channel gain (gamma, 1e-6 at init).",
    ),
)


# (what a variant with the change has, what one without it has instead): the plain labels of `variant_title`.
_PLAIN = {
    "01": ("stages 3-3-9-3", "stages 3-4-6-3"),
    "02": ("patchify stem", "ResNet stem"),
    "03": ("depthwise conv", "dense (not depthwise) conv"),
    "04": ("width 96", "width 64"),
    "05": ("inverted bottleneck", "standard bottleneck"),
    "06": ("k x k conv moved up", "k x k conv between the 1x1 convs"),
    "07": ("7x7 kernel", "3x3 kernel"),
    "08": ("GELU", "ReLU"),
    "09": ("one activation per block", "3 activations per block"),
    "10": ("one norm per block", "3 norms per block"),
    "11": ("LayerNorm", "BatchNorm"),
    "12a": ("separate downsampling layers", "downsampling in the blocks"),
    "12b": ("head norm", "no head norm"),
    "12c": ("layer scale", "no layer scale"),
}


def _changes() -> tuple[Change, ...]:
    return tuple(Change(i, name, meaning, STEP_IDS[int(i[:2])], *_PLAIN[i]) for i, name, meaning in _ROWS)


CHANGES: tuple[Change, ...] = _changes()
CHANGE_IDS: tuple[str, ...] = tuple(c.id for c in CHANGES)
GROUPS: dict[str, tuple[str, ...]] = {"12": ("12a", "12b", "12c")}  # step 12's bundle
ALL: frozenset[str] = frozenset(CHANGE_IDS)
_BY_ID = {c.id: c for c in CHANGES}
_BY_NAME = {c.name: c.id for c in CHANGES}


def _prefixes() -> tuple[frozenset[str], ...]:
    """ResNet-50 + changes 01..k, for k = 0..12: the change set of each roadmap step."""
    steps = [[c.id for c in CHANGES if int(c.id[:2]) == k] for k in range(13)]
    return tuple(frozenset(itertools.chain(*steps[: k + 1])) for k in range(13))


PREFIXES: tuple[frozenset[str], ...] = _prefixes()


def _valid_names() -> str:
    return "valid: " + ", ".join(f"{c.id} {c.name}" for c in CHANGES) + "; 12 (= 12a+12b+12c), all, none"


def _token(token: str) -> frozenset[str]:
    """One name -> the atomic change ids it stands for."""
    key = token.strip().lower()
    if key.isdigit() and len(key) == 1:
        key = key.zfill(2)  # "7" is "07", as for steps
    if key in _BY_ID:
        return frozenset({key})
    if key in _BY_NAME:
        return frozenset({_BY_NAME[key]})
    if key in GROUPS:
        return frozenset(GROUPS[key])
    if key in STEP_IDS[1:]:  # a full step id, "07_kernel_7x7": that step's change(s)
        return PREFIXES[int(key[:2])] - PREFIXES[int(key[:2]) - 1]
    if key == "all":
        return ALL
    if key == "none":
        return frozenset()
    raise ValueError(f"unknown change {token.strip()!r}; {_valid_names()}")


def _label(text: str) -> frozenset[str] | None:
    """A `variant_name` label read back ("resnet50", "resnet50+02+07", "convnext_t-07-12c"), else None."""
    for base, sign, start in (("resnet50", "+", frozenset()), ("convnext_t", "-", ALL)):
        if text == base:
            return start
        if text.startswith(base + sign):
            parts = frozenset().union(*(_token(t) for t in text[len(base) + 1 :].split(sign)))
            return start | parts if sign == "+" else start - parts
    return None


def parse_changes(changes: str | Iterable[str]) -> frozenset[str]:
    """The set of atomic change ids a text or an iterable names.

    A text is a comma-separated list of ids ("02,03,07"), short names ("kernel_7x7"), step ids
    ("07_kernel_7x7"), `12` (its three parts), `all` or `none`, or a `variant_name` label ("convnext_t-07").
    An iterable holds such names. Repeats and order do not matter. Unknown names and an empty text raise a
    ValueError naming the valid ones.
    """
    if isinstance(changes, str):
        text = changes.strip().lower()
        label = _label(text)
        if label is not None:
            return label
        tokens = [t for t in text.replace(" ", ",").split(",") if t]
        if not tokens:
            raise ValueError(f"empty change set: name at least one ('none' is ResNet-50 itself); {_valid_names()}")
    else:
        tokens = list(changes)
        for t in tokens:
            if not isinstance(t, str):
                raise TypeError(f"change names are strings, got {type(t).__name__} {t!r}; {_valid_names()}")
    return frozenset().union(*(_token(t) for t in tokens))


def _collapse(ids: Iterable[str]) -> list[str]:
    """Ids in roadmap order, with a whole group written as its id ("12")."""
    ids = set(ids)
    out = []
    for cid in CHANGE_IDS:
        if cid not in ids:
            continue
        group = next((g for g, parts in GROUPS.items() if cid in parts), None)
        if group is not None and set(GROUPS[group]) <= ids:
            if group not in out:
                out.append(group)
        else:
            out.append(cid)
    return out


def variant_name(changes: str | Iterable[str]) -> str:
    """A stable short label: "resnet50+02+03+07" (ResNet-50 plus) or "convnext_t-07" (ConvNeXt-T minus),
    whichever names fewer changes (the plus form on a tie); "resnet50" and "convnext_t" for the two ends.
    `parse_changes` reads every label back."""
    chosen = parse_changes(changes)
    plus, minus = _collapse(chosen), _collapse(ALL - chosen)
    if not plus:
        return "resnet50"
    if not minus:
        return "convnext_t"
    return "resnet50+" + "+".join(plus) if len(plus) <= len(minus) else "convnext_t-" + "-".join(minus)


def variant_title(
    changes: str | Iterable[str], base: str | Iterable[str] | None = None, base_label: str | None = None
) -> str:
    """What a variant is, in plain words, with its change ids: "ResNet-50 + 7x7 kernel (+07)", or, from the other
    end, what ConvNeXt-T has in place of the changes it lacks: "ConvNeXt-T with 3x3 kernel (-07)" (the form
    `variant_name` picks). With `base`, a subset of `changes`, it reads from there: "step 11 + head norm (+12b)"
    (the base called `base_label`, by default "step NN" for a roadmap step, else its own title)."""
    chosen = parse_changes(changes)
    if base is not None:
        start = parse_changes(base)
        if start <= chosen:
            step = variant_step(start)
            label = base_label or (f"step {step.id[:2]}" if step is not None else variant_title(start))
            if start == chosen:
                return label
            added = [c for c in CHANGE_IDS if c in chosen - start]
            return f"{label} + " + " + ".join(_BY_ID[c].brings for c in added) + " (+" + "+".join(added) + ")"
    name = variant_name(chosen)
    if name == "resnet50":
        return "ResNet-50"
    if name == "convnext_t":
        return "ConvNeXt-T"
    if name.startswith("resnet50+"):
        ids = [c for c in CHANGE_IDS if c in chosen]
        return "ResNet-50 + " + " + ".join(_BY_ID[c].brings for c in ids) + f" ({name.removeprefix('resnet50')})"
    ids = [c for c in CHANGE_IDS if c not in chosen]
    return "ConvNeXt-T with " + ", ".join(_BY_ID[c].instead for c in ids) + f" ({name.removeprefix('convnext_t')})"


def variant_step(changes: str | Iterable[str]):
    """The roadmap `Step` whose change set this is (a prefix of the paper's order), or None."""
    chosen = parse_changes(changes)
    return next((ROADMAP[k] for k, p in enumerate(PREFIXES) if p == chosen), None)


def check_changes(changes: frozenset[str]) -> None:
    """Raise a ValueError naming the change a set needs, where it has no meaning. Under the meanings above
    every set has one (`valid_combinations`), so only non-sets are refused."""
    unknown = sorted(set(changes) - ALL)
    if unknown:
        raise ValueError(f"unknown change id(s) {unknown}; {_valid_names()}")


def valid_combinations() -> tuple[int, int]:
    """(valid, all) over the 2^14 sets of changes: each set's config is assembled and checked."""
    valid = 0
    for n in range(len(CHANGE_IDS) + 1):
        for subset in itertools.combinations(CHANGE_IDS, n):
            try:
                variant_config(subset)
            except ValueError:
                continue
            valid += 1
    return valid, 2 ** len(CHANGE_IDS)


# ---------------------------------------------------------------------------------------------------------------
# The parametrised classes. Each reads like the step classes it reproduces; the options say which change is on.

_ACT = {"relu": lambda: nn.ReLU(inplace=True), "gelu": nn.GELU}


def _norm2d(kind: str, dim: int) -> nn.Module:
    return nn.BatchNorm2d(dim) if kind == "batch" else LayerNorm2d(dim)


class Stem(nn.Module):
    """ResNet's stem (7x7/2 conv, norm, activation, 3x3/2 max-pool) or, with 02, the patchify stem (4x4/4, norm)."""

    def __init__(self, in_chans: int, dim: int, *, patchify: bool, norm: str, act: str | None):
        super().__init__()
        bias = norm != "batch"  # a BN's shift makes a bias redundant; a LayerNorm's does not
        if patchify:
            self.conv = nn.Conv2d(in_chans, dim, kernel_size=4, stride=4, bias=bias)
        else:
            self.conv = nn.Conv2d(in_chans, dim, kernel_size=7, stride=2, padding=3, bias=bias)
        self.norm = _norm2d(norm, dim)
        if not patchify:
            self.act = _ACT[act]()
            self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

    def forward(self, x):
        x = self.norm(self.conv(x))
        return self.pool(self.act(x)) if hasattr(self, "pool") else x


class Shortcut(nn.Sequential):
    def __init__(self, in_dim: int, dim: int, stride: int, *, norm: str):
        bias = norm != "batch"
        super().__init__(nn.Conv2d(in_dim, dim, kernel_size=1, stride=stride, bias=bias), _norm2d(norm, dim))


@dataclass(frozen=True)
class BlockSpec:
    """Which changes shape the residual block (the rest live in the config)."""

    depthwise: bool = False  # 03
    inverted: bool = False  # 05
    conv_first: bool = False  # 06
    act: str = "relu"  # 08: "gelu"
    one_act: bool = False  # 09
    one_norm: bool = False  # 10
    norm: str = "batch"  # 11: "layer"
    channels_last: bool = False  # the official code's form (06 + 10 + 11 with 12a): the same function


class Block(nn.Module):
    """The residual block of any variant: pwconv1, the k x k conv and pwconv2 in the spec's order and widths.

    Names follow the steps: `conv` (`dwconv` once depthwise), `pwconv1`, `pwconv2`, the norm after each
    (`bn2`, `bn1`, `bn3`; `ln*` for LayerNorms; `norm` when only one is left), `act`, `shortcut`, `gamma`.
    """

    expansion = 4  # inverted: hidden = 4 x dim; standard: inner = dim / 4

    def __init__(
        self,
        in_dim: int,
        dim: int,
        kernel_size: int,
        stride: int = 1,
        drop_path: float = 0.0,
        layer_scale_init_value: float | None = None,
        *,
        spec: BlockSpec,
    ):
        super().__init__()
        self.spec = spec
        inner = dim * self.expansion if spec.inverted else dim // self.expansion
        kxk_dim = in_dim if spec.conv_first else inner
        batch = spec.norm == "batch"
        kxk_name = "dwconv" if spec.depthwise else "conv"
        kxk = nn.Conv2d(
            kxk_dim,
            kxk_dim,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            groups=kxk_dim if spec.depthwise else 1,
            bias=not batch,  # a bias unless a BN follows (it does, in every block)
        )
        pw_bias = not (batch and not spec.one_norm)  # the 1x1 convs: a bias unless a BN follows them
        pw = nn.Linear if spec.channels_last else functools.partial(nn.Conv2d, kernel_size=1)
        letter = "bn" if batch else "ln"
        # (conv name, conv, norm name or None, norm width, activation after it?) in forward (and creation) order
        units = [
            (kxk_name, kxk, "norm" if spec.one_norm else f"{letter}2", kxk_dim, not spec.one_act),
            ("pwconv1", pw(kxk_dim if spec.conv_first else in_dim, inner, bias=pw_bias), f"{letter}1", inner, True),
            ("pwconv2", pw(inner, dim, bias=pw_bias), f"{letter}3", dim, False),
        ]
        if not spec.conv_first:
            units = [units[1], units[0], units[2]]
        self.units = []
        for name, conv, norm, width, act in units:
            setattr(self, name, conv)
            keep = not spec.one_norm or norm == "norm"
            if keep:
                norm_layer = nn.LayerNorm(width, eps=LN_EPS) if spec.channels_last else _norm2d(spec.norm, width)
                setattr(self, norm, norm_layer)
            self.units.append((name, norm if keep else None, act))
        self.act = _ACT[spec.act]()
        # A projection where the block changes width or resolution, the identity elsewhere.
        self.shortcut = Shortcut(in_dim, dim, stride, norm=spec.norm) if stride != 1 or in_dim != dim else nn.Identity()
        # Layer scale: the branch starts near zero, so each block starts close to the identity.
        use_gamma = layer_scale_init_value is not None and layer_scale_init_value > 0
        self.gamma = nn.Parameter(layer_scale_init_value * torch.ones(dim)) if use_gamma else None
        self.drop_path = DropPath(drop_path)

    def _unit(self, x, conv: str, norm: str | None, act: bool):
        x = getattr(self, conv)(x)
        if norm is not None:
            x = getattr(self, norm)(x)
        return self.act(x) if act else x

    def forward(self, x):
        if self.spec.channels_last:  # step 12's form: the k x k conv first, then channels-last
            (conv, norm, act), *mlp = self.units
            out = getattr(self, conv)(x).permute(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C)
            out = getattr(self, norm)(out)  # nn.LayerNorm over the last dim: channels
            if act:
                out = self.act(out)
            for unit in mlp:
                out = self._unit(out, *unit)
            if self.gamma is not None:
                out = self.gamma * out
            out = out.permute(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
        else:
            out = x
            for unit in self.units:
                out = self._unit(out, *unit)
            if self.gamma is not None:
                out = self.gamma[:, None, None] * out
        out = self.shortcut(x) + self.drop_path(out)
        return out if self.spec.one_act else self.act(out)  # the activation after the sum, unless 09


class Downsample(nn.Sequential):
    def __init__(self, in_dim: int, dim: int, *, norm: str):
        super().__init__()
        self.norm = _norm2d(norm, in_dim)  # a norm where the resolution changes keeps training stable
        self.conv = nn.Conv2d(in_dim, dim, kernel_size=2, stride=2)


# One object per distinct option set, so that equal change sets give equal NetConfigs.
@functools.cache
def _component(cls: type, **options):
    return functools.partial(cls, **options)


_HEAD_NORM = {"batch": nn.BatchNorm1d, "layer": functools.partial(nn.LayerNorm, eps=LN_EPS)}
_SET_BY_CHANGES = ("stem", "block", "downsample", "head_norm", "stem_stride")


def variant_config(changes: str | Iterable[str] = (), without: str | Iterable[str] | None = None, **config_overrides):
    """The `NetConfig` of ResNet-50 plus `changes` (or of ConvNeXt-T minus `without`), then `config_overrides`.

    Overrides are NetConfig fields the change set does not choose: `kernel_size` (any odd size, whatever 07
    says), `depths`, `dims`, `stem_dim`, `drop_path_rate`, `in_chans`, and `layer_scale_init_value` (with 12c).
    """
    chosen = _chosen(changes, without)
    check_changes(chosen)
    on = chosen.__contains__
    norm = "layer" if on("11") else "batch"
    act = "gelu" if on("08") else "relu"
    spec = BlockSpec(
        depthwise=on("03"),
        inverted=on("05"),
        conv_first=on("06"),
        act=act,
        one_act=on("09"),
        one_norm=on("10"),
        norm=norm,
        channels_last=on("06") and on("10") and on("11") and on("12a"),
    )
    base = 96 if on("04") else 64
    widths = tuple(base * 2**i * (1 if on("05") else Block.expansion) for i in range(4))
    config = NetConfig(
        stem=_component(Stem, patchify=on("02"), norm=norm, act=None if on("02") else act),  # patchify: no act
        block=_component(Block, spec=spec),
        depths=(3, 3, 9, 3) if on("01") else (3, 4, 6, 3),
        dims=widths,
        stem_dim=base,
        kernel_size=7 if on("07") else 3,
        downsample=_component(Downsample, norm=norm) if on("12a") else None,
        head_norm=_HEAD_NORM[norm] if on("12b") else None,
        drop_path_rate=0.1,  # the paper trains every roadmap step with stochastic depth
        layer_scale_init_value=1e-6 if on("12c") else None,
    )
    fixed = sorted(set(config_overrides) & set(_SET_BY_CHANGES))
    if fixed:
        raise ValueError(
            f"{', '.join(fixed)} is chosen by the change set, not overridden (name changes instead); overridable: "
            "kernel_size, depths, dims, stem_dim, drop_path_rate, in_chans, layer_scale_init_value (with 12c)"
        )
    if config_overrides.get("layer_scale_init_value") is not None and not on("12c"):
        raise ValueError("layer_scale_init_value needs change 12c layer_scale (this variant has no layer scale)")
    return config.replace(**config_overrides)


def _chosen(changes, without) -> frozenset[str]:
    if without is None:
        return parse_changes(changes)
    if isinstance(changes, str) or list(changes):
        raise ValueError(
            f"give changes (ResNet-50 plus them) or without (ConvNeXt-T minus them), not both; {_valid_names()}"
        )
    return ALL - parse_changes(without)


def build_variant(
    changes: str | Iterable[str] = (), without: str | Iterable[str] | None = None, num_classes: int = 1000, **overrides
) -> Network:
    """ResNet-50 plus `changes` (or ConvNeXt-T minus `without`) as a `Network`; see `variant_config`."""
    return Network(variant_config(changes, without, **overrides), num_classes)
