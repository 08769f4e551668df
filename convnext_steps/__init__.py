"""convnext-steps: ResNet-50 to ConvNeXt, one verified design change at a time.

>>> from convnext_steps import ROADMAP, build_model, load_weights
>>> model = build_model("05_inverted_bottleneck")
"""

from .convert import LAYOUTS, export_state_dict, load_weights
from .design import design_diff
from .family import FAMILY, convnext, convnext_base, convnext_large, convnext_small, convnext_tiny, convnext_xlarge
from .measure import count_macs, count_params, stage_shapes
from .network import NetConfig, Network
from .roadmap import ALL_STEPS, EXTENSION_IDS, EXTENSIONS, ROADMAP, STEP_IDS, Step, build_model, get_step

__version__ = "0.1.0"

__all__ = [
    "ROADMAP",
    "STEP_IDS",
    "EXTENSIONS",
    "EXTENSION_IDS",
    "ALL_STEPS",
    "Step",
    "build_model",
    "get_step",
    "NetConfig",
    "Network",
    "FAMILY",
    "convnext",
    "convnext_tiny",
    "convnext_small",
    "convnext_base",
    "convnext_large",
    "convnext_xlarge",
    "LAYOUTS",
    "load_weights",
    "export_state_dict",
    "count_params",
    "count_macs",
    "stage_shapes",
    "design_diff",
]
