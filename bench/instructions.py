"""``python -m bench.instructions``: machine instructions per operation, commit against commit.

CPU time on a shared machine swings by a tenth or more between runs of the same code, so a
change of a few percent cannot be told from noise with it. The number of instructions an
operation executes barely moves: this counts it with valgrind's callgrind, for each
scenario and each commit named, and prints the ratios to the first.

    .venv/bin/python -m bench.instructions --rev 1fa745a --rev HEAD sso_sign_in login_page

Each commit is checked out in a temporary worktree (``.`` is the working tree as it is) and
driven by this checkout's :mod:`bench.inprocess`: the scenario runs inside one Python
process, twice (with no operation, then with ``--ops``), and the difference divided by
``--ops`` is one operation's count, start-up and seeding left out. Instructions are not
time (cache misses and system calls count as one), so quote them beside the CPU figures of
``python -m bench``, not instead of them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import typing as t
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / "bench" / "inprocess.py"
COLLECTED = re.compile(r"Collected : (\d+)")


@contextlib.contextmanager
def checkout(rev: str, workdir: Path) -> t.Iterator[Path]:
    """The tree of ``rev`` (a temporary worktree), or this working tree for ``.``."""
    if rev == ".":
        yield ROOT
        return
    tree = workdir / re.sub(r"[^\w.-]", "_", rev)
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--quiet", str(tree), rev], cwd=ROOT, check=True
    )
    try:
        yield tree
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)


def instructions(tree: Path, scenario: str, ops: int) -> int:
    """Instructions the Python process executed running ``scenario`` ``ops`` times in ``tree``."""
    code = f"import runpy; runpy.run_path({str(DRIVER)!r}, run_name='__main__')"
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--trace-children=no",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-c",
            code,
            scenario,
            str(ops),
        ],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"},
        capture_output=True,
        text=True,
        check=False,
    )
    found = COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(
            f"{scenario} in {tree} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
        )
    return int(found.group(1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="+", help="bench.inprocess scenarios")
    parser.add_argument("--rev", action="append", help="a commit (repeat); '.' = working tree")
    parser.add_argument("--ops", type=int, default=30, help="operations counted (default 30)")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    revs = args.rev or ["."]
    table: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="foyer-instructions-") as workdir:
        for rev in revs:
            with checkout(rev, Path(workdir)) as tree:
                for scenario in args.scenarios:
                    empty = instructions(tree, scenario, 0)
                    full = instructions(tree, scenario, args.ops)
                    per_op = (full - empty) / args.ops
                    table.setdefault(scenario, {})[rev] = per_op
                    print(
                        json.dumps(
                            {"scenario": scenario, "rev": rev, "instructions_per_op": per_op}
                        ),
                        flush=True,
                    )
    print(f"\n{'scenario':24} " + " ".join(f"{rev:>16}" for rev in revs))
    for scenario, counts in table.items():
        first = counts[revs[0]]
        cells = [f"{counts[rev] / 1e6:9.2f}M {counts[rev] / first:5.3f}x" for rev in revs]
        print(f"{scenario:24} " + " ".join(f"{cell:>16}" for cell in cells))


if __name__ == "__main__":
    main()
