"""Lockfiles: the exact versions a project runs, and the ecosystem's own tool to move them.

One module per lock format behind the ``LockFormat`` interface (``base.py``): ``uv`` (``uv.lock``), ``poetry``
(``poetry.lock``) and ``piptools`` (a ``requirements*.txt`` compiled by pip-compile from its ``.in``). A lockfile is
never edited by hand: the tool rewrites it in the update's worktree, and what moved is read back from the file.
"""

from jobs.lockfiles.base import LockChange, LockedPackage, LockedProject, LockError, LockFormat, diff
from jobs.lockfiles.detect import FORMATS, detect, get

__all__ = ["FORMATS", "LockChange", "LockError", "LockFormat", "LockedPackage", "LockedProject", "detect", "diff",
           "get"]
