"""Printing benchmark results: one markdown table format for every script in bench/."""

from __future__ import annotations


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [header, ["-" * w for w in widths], *rows]
    return "\n".join("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |" for row in lines)


def rows_from_child(module: str, args: list[str]) -> list[list[str]]:
    """Run `python -m MODULE ARGS...` (from the repository root) and return the table rows it
    prints as JSON on its last line.

    Timed cells run in processes of their own: torch's and onnxruntime's idle worker threads
    spin, and a session left over from the cell before slows the next one down (lite in
    onnxruntime at 640x360: 99 ms/frame after the full model in the same process, 52 alone).
    """
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    child = subprocess.run(
        [sys.executable, "-m", module, *args], stdout=subprocess.PIPE, text=True, check=True, cwd=root
    )
    return json.loads(child.stdout.strip().splitlines()[-1])
