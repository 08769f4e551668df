"""Reading committed notebooks in tests: cells, their source and their stored text outputs."""

import json
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def outputs(cell: dict) -> str:
    """The cell's stored stream and text/plain outputs, joined."""
    text = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            text.append("".join(out["text"]))
        elif "text/plain" in out.get("data", {}):
            text.append("".join(out["data"]["text/plain"]))
    return "\n".join(text)
