"""Release notes in the project's voice, measured: the shared dev corpus (21 real releases of 11 projects) replayed
through `nightcrew run release-notes` by ../shared/notes_corpus_eval.py; prints, per release, the normalized edit
distance of the draft and of a naive "- title (#N)" draft to the notes the maintainers published, then coverage
(every PR listed or excluded by a named rule) and the mean ratio draft/naive.

Run: python tests/benchmarks/bench_notes_corpus.py [--only OWNER/NAME] [--keep DIR]
(targets: coverage 100%; ratio at most 0.75)

The draft is made by this checkout (`python -m jobs`, with this checkout first on the import path). Skipped
with a message when ../shared is missing.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EVAL = ROOT.parent / "shared" / "notes_corpus_eval.py"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="only the releases of this project (owner/name)")
    parser.add_argument("--keep", help="keep the replayed repositories in this folder")
    args = parser.parse_args(argv)
    if not EVAL.is_file():
        print(f"skipped: {EVAL} not found")
        return 0
    command = [sys.executable, str(EVAL), "--nightcrew", f"{shlex.quote(sys.executable)} -m jobs"]
    command += ["--only", args.only] if args.only else []
    command += ["--keep", args.keep] if args.keep else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    print(proc.stdout, end="")
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
        return proc.returncode
    summary = re.search(r"coverage (\d+)/(\d+) PRs .* ratio ([\d.]+)", proc.stdout)
    if summary is None:
        print("no summary line in the evaluator's output")
        return 1
    covered, total, ratio = int(summary[1]), int(summary[2]), float(summary[3])
    print(f"targets: coverage {covered}/{total} ({'met' if covered == total else 'MISSED'}), "
          f"ratio {ratio:.2f} ({'met' if ratio <= 0.75 else 'MISSED'}: target at most 0.75)")
    return 0 if covered == total and ratio <= 0.75 else 1


if __name__ == "__main__":
    sys.exit(main())
