"""A block, layer by layer: every operation's output shape and memory layout, read off the model itself.

`trace_block(step)` runs one block of a step's network (by default stage 1's second block, a plain one) through
`torch.fx`, records each operation in order (convs, norms, activations, permutes, layer scale, the residual add)
with its output shape, and tells whether the tensor is channels-first (N, C, H, W) or channels-last
(N, H, W, C). The block diagrams in `plots.block_diagram_figure` are drawn from the same records.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.fx
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

from .layers import DropPath, LayerNorm2d
from .measure import eval_mode
from .roadmap import Step, get_step
from .steps.ext_v2_grn import GRN

__all__ = ["Op", "trace_module", "trace_block", "trace_stem", "format_trace", "block_at"]

_NORMS = {nn.BatchNorm2d: "BN", LayerNorm2d: "LN", nn.LayerNorm: "LN", nn.GroupNorm: "GN"}
_LAYOUTS = {(0, 2, 3, 1): "NHWC", (0, 3, 1, 2): "NCHW"}


@dataclass(frozen=True)
class Op:
    """One operation of a traced module, in execution order."""

    name: str  # the submodule's name ("dwconv", "shortcut.0") or the operation's ("permute", "add", "mul")
    kind: str  # conv, depthwise conv, linear, norm, activation, pool, permute, layer scale, drop path, add, ...
    label: str  # short text for a diagram: "7x7 depthwise, 96", "1x1 conv, 96->384", "LN", "GELU", "+"
    shape: tuple[int, ...]  # output shape
    layout: str  # "NCHW" (channels first), "NHWC" (channels last) or "NC"
    branch: str  # "input", "main" (the residual branch), "shortcut", or "after" (at or after the residual add)


class _Tracer(torch.fx.Tracer):
    # Trace into the step modules' own classes (blocks, stems, shortcuts); keep library layers, and GRN, whole.
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, GRN) or not type(m).__module__.startswith("convnext_steps.steps")


def _conv_label(conv: nn.Conv2d) -> tuple[str, str]:
    k = conv.kernel_size[0]
    stride = f", stride {conv.stride[0]}" if conv.stride[0] > 1 else ""
    if conv.groups == conv.in_channels == conv.out_channels and conv.groups > 1:
        return "depthwise conv", f"{k}x{k} depthwise, {conv.out_channels}{stride}"
    groups = f", {conv.groups} groups" if conv.groups > 1 else ""
    return "conv", f"{k}x{k} conv, {conv.in_channels}->{conv.out_channels}{stride}{groups}"


def _describe_module(m: nn.Module) -> tuple[str, str]:
    if isinstance(m, nn.Conv2d):
        return _conv_label(m)
    if isinstance(m, nn.Linear):
        return "linear", f"1x1 (linear), {m.in_features}->{m.out_features}"  # a 1x1 conv on channels-last
    if type(m) in _NORMS:
        width = m.num_features if isinstance(m, nn.BatchNorm2d) else m.weight.shape[0] if m.weight is not None else ""
        return "norm", f"{_NORMS[type(m)]}, {width}"
    if isinstance(m, GRN):
        return "norm", f"GRN, {m.gamma.shape[-1]}"  # ConvNeXt V2's global response normalization
    if isinstance(m, (nn.ReLU, nn.GELU)):
        return "activation", type(m).__name__
    if isinstance(m, nn.MaxPool2d):
        return "pool", f"{m.kernel_size}x{m.kernel_size} max-pool, stride {m.stride}"
    if isinstance(m, DropPath):
        return "drop path", f"drop path (p={m.p:.3f})"
    if isinstance(m, nn.Identity):
        return "identity", "identity"
    return type(m).__name__, type(m).__name__


def trace_module(module: nn.Module, input_shape: tuple[int, ...]) -> list[Op]:
    """Every operation of `module` on an input of `input_shape`, in order (eval mode, no gradients).

    Shapes are propagated on the module's own device: a module built on the meta device is traced without memory
    or arithmetic.
    """
    graph = _Tracer().trace(module)
    gm = torch.fx.GraphModule(module, graph)
    device = next(iter(module.parameters()), torch.zeros(())).device
    with eval_mode(module), torch.no_grad():
        ShapeProp(gm).propagate(torch.zeros(input_shape, device=device))
    modules = dict(module.named_modules())
    ops, layout, branch = [], {}, {}
    for node in graph.nodes:
        if node.op == "output":
            continue
        meta = node.meta.get("tensor_meta")
        shape = tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else ()
        tensor_args = [a for a in node.args if isinstance(a, torch.fx.Node) and layout.get(a, "param") != "param"]
        inherited = layout[tensor_args[0]] if tensor_args else ("NCHW" if len(shape) == 4 else "NC")
        if node.op == "placeholder":
            layout[node], branch[node] = ("NCHW" if len(shape) == 4 else "NC"), "input"
            ops.append(Op("input", "input", "input", shape, layout[node], "input"))
            continue
        if node.op == "get_attr":
            layout[node], branch[node] = "param", "param"
            continue
        kind, label, name = _describe(node, modules)
        layout[node] = _LAYOUTS.get(tuple(node.args[1:]), inherited) if kind == "permute" else inherited
        parents = [branch[a] for a in tensor_args if branch.get(a) not in (None, "param")]
        if kind == "add" and len(parents) == 2:
            here = "after"
        elif name.startswith("shortcut"):
            here = "shortcut"
        elif "after" in parents:
            here = "after"
        else:
            here = "main"
        branch[node] = here
        if kind == "layer scale" and not any(
            branch.get(a) == "param" for a in node.args if isinstance(a, torch.fx.Node)
        ):
            kind, label = "multiply", "x"
        ops.append(Op(name, kind, label, shape, layout[node], here))
    return ops


def _describe(node: torch.fx.Node, modules: dict[str, nn.Module]) -> tuple[str, str, str]:
    if node.op == "call_module":
        kind, label = _describe_module(modules[node.target])
        return kind, label, node.target
    target = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", str(node.target))
    if target == "permute":
        dims = tuple(node.args[1:])
        return "permute", f"permute to {_LAYOUTS.get(dims, str(dims))}", "permute"
    if target in ("add", "iadd", "add_"):
        return "add", "+", "add"
    if target in ("mul", "imul", "mul_"):
        return "layer scale", "x gamma (layer scale)", "mul"
    return target, target, target


def block_at(model: nn.Module, stage: int = 0, index: int = 1) -> nn.Module:
    """Block `index` of stage `stage` (both from 0) of a built network."""
    blocks = model.stages[stage].blocks
    if not 0 <= index < len(blocks):
        raise ValueError(f"stage {stage + 1} has {len(blocks)} blocks; index {index} is out of range")
    return blocks[index]


def trace_block(
    step: int | str | Step, stage: int = 0, index: int = 1, image_size: int = 224, with_downsample: bool = False
) -> list[Op]:
    """The operations of one block of a step's network (default: stage 1's second block, at 224x224).

    `with_downsample=True` (for index 0 of stages 2-4) also traces the stage's separate downsampling layer
    first, where the network has one; its operations are named "downsample.*".
    """
    step = get_step(step)
    with torch.device("meta"):  # shapes only
        model = step.build()
    if not 0 <= stage < len(model.stages):
        raise ValueError(
            f"the network has {len(model.stages)} stages; stage {stage} is out of range 0..{len(model.stages) - 1}"
        )
    with torch.no_grad():
        x = model.forward_stages(torch.zeros(1, model.config.in_chans, image_size, image_size, device="meta"))[stage]
    ops = []
    downsample = model.stages[stage].downsample
    if with_downsample and index == 0 and not isinstance(downsample, nn.Identity):
        ops = [
            Op(f"downsample.{o.name}", o.kind, o.label, o.shape, o.layout, "downsample")
            for o in trace_module(downsample, tuple(x.shape))
            if o.kind != "input"
        ]
        ops.insert(0, Op("input", "input", "input", tuple(x.shape), "NCHW", "input"))
    block = block_at(model, stage, index)
    with torch.no_grad():  # the block's input: after the stage's downsampling layer and the blocks before it
        x = model.stages[stage].blocks[:index](downsample(x))
    block_ops = trace_module(block, tuple(x.shape))
    return ops + (block_ops[1:] if ops else block_ops)


def trace_stem(step: int | str | Step, image_size: int = 224) -> list[Op]:
    """The operations of a step's stem, on one image."""
    with torch.device("meta"):  # shapes only
        model = get_step(step).build()
    return trace_module(model.stem, (1, model.config.in_chans, image_size, image_size))


def format_trace(ops: list[Op]) -> str:
    """One line per operation: name, what it is, output shape and layout."""
    width = max(len(o.name) for o in ops)
    label_width = max(len(o.label) for o in ops)
    lines = []
    for o in ops:
        shape = "(" + ", ".join(str(d) for d in o.shape) + ")"
        where = {
            "shortcut": "  [shortcut]",
            "downsample": "  [downsampling layer]",
            "after": "  [residual add]" if o.kind == "add" else "  [after the add]",
        }.get(o.branch, "")
        lines.append(f"{o.name:<{width}}  {o.label:<{label_width}}  {shape:<18} {o.layout}{where}")
    return "\n".join(lines)
