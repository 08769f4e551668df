"""Re-execute notebooks in place, top to bottom, each in a fresh `python3` kernel: `make notebooks` runs this.

Run it after any intended change to what a notebook prints, so that its stored outputs (which `make test` compares
with strict nbval) are the package's real outputs and never hand-edited:

    python tools/run_notebooks.py                        # every notebooks/NN_*.ipynb
    python tools/run_notebooks.py notebooks/07*.ipynb    # just these
    make notebooks NB="notebooks/07_kernel_7x7.ipynb"

Each notebook runs in its own process and kernel, two at a time by default. The kernels get the environment that
makes a re-run repeat itself (PYTHONHASHSEED=0, one thread each); the notebooks seed torch themselves. A notebook
is written back only when every cell ran without raising and without writing to stderr; otherwise this names the
notebook and the cell, leaves the file as it was, starts no further notebooks and exits 1.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}

# Set for every kernel (they inherit this process's environment): what a re-run needs to print the same again.
REPRODUCIBLE_ENV = {
    "PYTHONHASHSEED": "0",  # set and dict orders that depend on str hashes
    "OMP_NUM_THREADS": "1",  # one intra-op thread: fixed summation order, and two kernels share two cores
    "MKL_NUM_THREADS": "1",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",  # silences ipykernel's debugger warning about frozen modules
}


ANSI = re.compile(r"\x1b\[[0-9;]*m")  # IPython colours its tracebacks


class NotebookFailed(Exception):
    """A cell raised, wrote to stderr, or the notebook did not execute as a clean top-to-bottom run."""


def _source(cell) -> str:
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


def _first_line(cell) -> str:
    lines = [line for line in _source(cell).splitlines() if line.strip()]
    return lines[0][:80] if lines else "(empty)"


def execute(path: str, timeout: int, kernel: str) -> float:
    """Execute one notebook in a fresh kernel and write it back tidied; returns seconds taken."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    os.environ.update(REPRODUCIBLE_ENV)
    nb_path = Path(path)
    nb = nbformat.read(nb_path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    if not code:
        raise NotebookFailed(f"{path}: no code cells")
    for i, cell in enumerate(code, 1):
        if not _source(cell).strip():
            raise NotebookFailed(f"{path}: code cell {i} is empty (delete it: an empty cell gets no execution count)")
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel,
        record_timing=False,
        resources={"metadata": {"path": str(nb_path.parent)}},
    )  # cwd = the notebook's folder
    start = time.perf_counter()
    # The kernel's own stderr (ipykernel's start-up warnings) goes to a file, shown only if the run fails.
    kernel_log = tempfile.TemporaryFile("w+")
    try:
        client.execute(stderr=kernel_log)
    except (CellExecutionError, CellTimeoutError) as err:
        failed = next(
            (i for i, c in enumerate(code, 1) if any(o.output_type == "error" for o in c.get("outputs", []))), None
        )
        if failed is None:  # a timeout leaves no error output: the cell is the first without a count
            failed = next((i for i, c in enumerate(code, 1) if c.execution_count is None), len(code))
        if isinstance(err, CellTimeoutError):
            reason = f"no result within --timeout {timeout} s"
        else:
            summary = ANSI.sub("", str(err)).strip().splitlines()
            reason = next((line for line in reversed(summary) if line.strip()), type(err).__name__)
        raise NotebookFailed(
            f"{path}: code cell {failed} ({_first_line(code[failed - 1])!r}) failed: {reason}"
        ) from None
    except Exception as err:  # the kernel died or never started: its log says why
        kernel_log.seek(0)
        raise NotebookFailed(f"{path}: {type(err).__name__}: {err}\nkernel log:\n{kernel_log.read()[-2000:]}") from None
    finally:
        kernel_log.close()
    seconds = time.perf_counter() - start

    for i, cell in enumerate(code, 1):
        for out in cell.outputs:
            if out.output_type == "stream" and out.name == "stderr":
                text = out.text.strip().splitlines()
                raise NotebookFailed(
                    f"{path}: code cell {i} ({_first_line(cell)!r}) wrote to stderr: "
                    f"{text[0] if text else ''!r:.200} (fix or silence it)"
                )
        if cell.execution_count != i:
            raise NotebookFailed(f"{path}: code cell {i} got execution count {cell.execution_count}")
        cell.metadata.pop("execution", None)  # timestamps: noise in every diff
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.pop("widgets", None)
    nbformat.validate(nb)
    nbformat.write(nb, nb_path)
    return seconds


def default_notebooks() -> list[str]:
    """The step notebooks, then their solutions (notebooks/solutions/, checked by nbval like the rest)."""
    folder = ROOT / "notebooks"
    paths = sorted(folder.glob("[0-9][0-9]_*.ipynb")) + sorted((folder / "solutions").glob("[0-9][0-9]_*.ipynb"))
    return [str(p.relative_to(ROOT)) for p in paths]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebook paths (default: every notebooks/NN_*.ipynb)")
    parser.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="notebooks run at once (default: 2, one per core here)",
    )
    parser.add_argument("--timeout", type=int, default=600, help="seconds a single cell may take (default: 600)")
    parser.add_argument("--kernel", default="python3", help="kernelspec name (default: python3, the venv's)")
    parser.add_argument("--keep-going", action="store_true", help="after a failure, still run the rest")
    args = parser.parse_args(argv)

    paths = args.notebooks or default_notebooks()
    for p in paths:
        if not p.endswith(".ipynb") or not Path(p).is_file():
            parser.error(f"not a notebook file: {p}")
    failures: list[str] = []
    written = 0
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        pending = {pool.submit(execute, p, args.timeout, args.kernel): p for p in paths}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                path = pending.pop(fut)
                try:
                    print(f"ok      {path} ({fut.result():.1f} s)", flush=True)
                    written += 1
                except NotebookFailed as err:
                    failures.append(str(err))
                    print(f"FAILED  {err}", flush=True)
                except Exception as err:  # the kernel died, a file is not a valid notebook, ...
                    failures.append(f"{path}: {type(err).__name__}: {err}")
                    print(f"FAILED  {failures[-1]}", flush=True)
            if failures and not args.keep_going:
                for fut in pending:
                    fut.cancel()  # those already running finish; the rest do not start
                pending = {f: p for f, p in pending.items() if not f.cancelled()}
    print(
        f"{written} of {len(paths)} notebooks executed and written in {time.perf_counter() - start:.0f} s"
        + (f"; {len(failures)} failed, {len(paths) - written - len(failures)} not started" if failures else "")
    )
    if failures:
        print("\n".join(["", "Failed (the file is left as it was):", *failures]), file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
