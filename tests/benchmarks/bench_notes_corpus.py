"""Release notes in the project's voice, measured: the shared dev corpus (21 real releases of 11 projects) replayed
through `nightcrew run release-notes` by ../shared/notes_corpus_eval.py; prints, per release, the normalized edit
distance of the draft and of a naive "- title (#N)" draft to the notes the maintainers published, then coverage
(every PR listed or excluded by a named rule) and the mean ratio draft/naive.

Run: python tests/benchmarks/bench_notes_corpus.py [--only OWNER/NAME] [--keep DIR]
(targets: coverage 100%; ratio at most 0.75)

It then prints a ceiling: the ratio a draft would reach if it were structurally perfect wherever the published
text can come from the history at all. For a release whose published bullets cite PRs of the range, that draft
is the published section itself with each such bullet replaced by "- PR title (#N)" (same headings, same
selection, same order: perfect categories, exclusions and ordering, history's wording). A release whose
bullets cite no PR of the range publishes prose that the replayed history does not contain (towncrier
fragments, hand-written entries), so it keeps the distance the job measured. A target below the ceiling cannot
be met by any draft that only uses text from its sources.

The draft is made by this checkout (`python -m jobs`, with this checkout first on the import path). Skipped
with a message when ../shared is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EVAL = ROOT.parent / "shared" / "notes_corpus_eval.py"
BULLET = re.compile(r"^\s*[-*+] ")
CITED = re.compile(r"(?:#|/pull/|/issues/|:pr:`|:issue:`|\{pr\}`|\{issue\}`)(\d+)")


def ceiling(measured: list[float], project: str | None) -> None:
    """Print the best ratio a source-only draft could reach (see the module docstring)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("notes_corpus_eval", EVAL)  # the evaluator's own distance,
    assert spec is not None and spec.loader is not None  # naive draft and PR rule
    ev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ev)

    corpus = [r for r in json.loads((EVAL.parent / "release-notes-dev-corpus.json").read_text())
              if not project or r["project"] == project]
    best, naive, from_history = [], [], 0
    for rel, draft_distance in zip(corpus, measured):
        titles = {}
        for c in rel["commits"]:
            n = ev.pr_of(c["subject"], c["parents"])
            if n is not None:
                title = c["body"].splitlines()[0] if ev.MERGE_PR.search(c["subject"]) and c["body"] else c["subject"]
                titles[n] = ev.SQUASH_PR.sub("", title).strip()
        lines, cited, skipping = [], 0, False
        for line in rel["final_notes"].splitlines():
            prs = [int(n) for n in CITED.findall(line) if int(n) in titles]
            if BULLET.match(line):
                skipping = not prs
                if prs:
                    cited += 1
                    lines.append(f"- {titles[prs[0]]} (#{prs[0]})")
            elif not (skipping and (line.startswith(" ") or not line.strip())):
                skipping = False
                lines.append(line)
        naive.append(ev.distance(ev.naive(rel), rel["final_notes"]))
        if cited:
            from_history += 1
            best.append(min(draft_distance, ev.distance("\n".join(lines), rel["final_notes"])))
        else:
            best.append(draft_distance)
    if naive:
        mean = sum(best) / len(best) / (sum(naive) / len(naive))
        print(f"ceiling: {from_history}/{len(corpus)} releases publish bullets citing PRs of the range; a structurally "
              f"perfect draft there, the measured draft elsewhere: ratio {mean:.2f}")


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
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    print(proc.stdout, end="")
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
        return proc.returncode
    summary = re.search(r"coverage (\d+)/(\d+) PRs .* ratio ([\d.]+)", proc.stdout)
    if summary is None:
        print("no summary line in the evaluator's output")
        return 1
    covered, total, ratio = int(summary[1]), int(summary[2]), float(summary[3])
    ceiling([float(d) for d in re.findall(r" draft ([\d.]+) ", proc.stdout)], args.only)
    print(f"targets: coverage {covered}/{total} ({'met' if covered == total else 'MISSED'}), "
          f"ratio {ratio:.2f} ({'met' if ratio <= 0.75 else 'MISSED'}: target at most 0.75)")
    return 0 if covered == total and ratio <= 0.75 else 1


if __name__ == "__main__":
    sys.exit(main())
