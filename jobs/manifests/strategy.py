"""Range strategies: the new constraint text for a dependency moving to a new version, in its own syntax."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from jobs.manifests.poetry import PoetryConstraintError, to_pep440
from jobs.models import Dependency

STRATEGIES = ("auto", "pin", "bump", "widen")

# Longest first, so ``===`` is not read as ``==`` nor ``~=`` as ``~``.
_PEP440_OPERATORS = ("===", "~=", "==", "!=", "<=", ">=", "<", ">")
_POETRY_OPERATORS = ("~=", "==", "!=", "<=", ">=", "<", ">", "=", "^", "~")
_SEPARATORS = " \t,"
_EXACT = ("==", "===", "=", "")


def is_poetry(dep: Dependency) -> bool:
    """Poetry's own constraint syntax is used in ``[tool.poetry...]`` tables, PEP 440 everywhere else."""
    return dep.section == "tool.poetry" or dep.section.startswith("tool.poetry.")


def new_specifier(dep: Dependency, new: Version, strategy: str = "auto") -> str | None:
    """The constraint text that admits ``new`` under ``strategy``, in the dependency's own syntax.

    None when no edit is needed (the text would not change, or ``auto`` finds ``new`` already admitted).
    Raises ValueError for an unknown strategy, an invalid current constraint, or a result that would
    not admit ``new``.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown range strategy {strategy!r} (expected one of {', '.join(STRATEGIES)})")
    poetry = is_poetry(dep)
    if poetry and "|" in dep.specifier:
        # '||' has no PEP 440 form to reason about; only a pin (which replaces it all) is safe.
        if strategy != "pin":
            raise ValueError(f"{dep.raw_name}: cannot apply {strategy!r} to the '||' constraint {dep.specifier!r}")
        return _checked(dep, new, str(new), poetry)
    constraint = _Constraint.parse(dep, poetry)
    result = _STRATEGY[strategy](constraint, new)
    if result is None:
        return None
    text = result.text()
    return None if text == dep.specifier else _checked(dep, new, text, poetry)


# --------------------------------------------------------------------------- the written constraint


@dataclass
class _Clause:
    """One ``operator version`` pair as written; ``gap`` is the whitespace between the two."""

    op: str
    gap: str
    version: str

    @property
    def kind(self) -> str:
        if self.op in _EXACT:
            if self.version == "*":
                return "any"
            return "wildcard" if self.version.endswith(".*") and self.op != "===" else "exact"
        return {">=": "lower", ">": "lower", "<": "upper", "<=": "upper", "!=": "exclude"}.get(self.op, "compatible")

    @property
    def parsed(self) -> Version:
        return Version(self.version.removesuffix(".*"))


@dataclass
class _Constraint:
    """A constraint split into clauses, keeping every separator so untouched text renders unchanged."""

    name: str
    poetry: bool
    clauses: list[_Clause]
    seps: list[str]  # seps[i] sits between clauses[i] and clauses[i + 1]
    lead: str = ""
    trail: str = ""
    default_sep: str = field(default=",")

    @classmethod
    def parse(cls, dep: Dependency, poetry: bool) -> _Constraint:
        text = dep.specifier
        _validate(dep, text, poetry)
        operators = _POETRY_OPERATORS if poetry else _PEP440_OPERATORS
        clauses: list[_Clause] = []
        seps: list[str] = []
        lead, i, n = "", 0, len(text)
        while True:
            j = _skip(text, i, _SEPARATORS)
            if j >= n:
                trail = text[i:j]
                break
            if clauses:
                seps.append(text[i:j])
            else:
                lead = text[i:j]
            op = next((o for o in operators if text.startswith(o, j)), "")
            k = _skip(text, j + len(op), " \t")
            end = k
            while end < n and text[end] not in _SEPARATORS:
                end += 1
            clauses.append(_Clause(op, text[j + len(op):k], text[k:end]))
            i = end
        return cls(dep.raw_name, poetry, clauses, seps, lead, trail, _default_sep(clauses, seps, poetry))

    def text(self) -> str:
        parts = [self.lead]
        for index, clause in enumerate(self.clauses):
            if index:
                parts.append(self.seps[index - 1])
            parts.append(f"{clause.op}{clause.gap}{clause.version}")
        return "".join(parts) + self.trail

    def pep440(self, clauses: list[_Clause] | None = None) -> str:
        """The PEP 440 form of all clauses (or of ``clauses``)."""
        text = ",".join(f"{c.op}{c.version}" for c in (self.clauses if clauses is None else clauses))
        return to_pep440(text) if self.poetry else text

    def admits(self, new: Version, clauses: list[_Clause] | None = None) -> bool:
        return _admits(self.pep440(clauses), new)

    @property
    def sole_exact(self) -> _Clause | None:
        return self.clauses[0] if len(self.clauses) == 1 and self.clauses[0].kind == "exact" else None

    @property
    def unconstrained(self) -> bool:
        return all(c.kind == "any" for c in self.clauses)

    def remove(self, index: int) -> None:
        """Drop a clause and one separator next to it (the one after, else the one before)."""
        del self.clauses[index]
        if self.seps:
            del self.seps[index if index < len(self.seps) else index - 1]

    def expand(self, index: int, parts: list[_Clause]) -> None:
        """Replace one clause by several, joined by the constraint's own separator."""
        self.clauses[index:index + 1] = parts
        self.seps[index:index] = [self.default_sep] * (len(parts) - 1)


def _default_sep(clauses: list[_Clause], seps: list[str], poetry: bool) -> str:
    """The separator to put between new clauses: one already written, else a comma (spaced if operators are)."""
    written = next((s for s in seps if "," in s), seps[0] if poetry and seps else None)
    if written is not None:
        return written
    return ", " if any(c.gap for c in clauses) else ","


def _skip(text: str, i: int, chars: str) -> int:
    while i < len(text) and text[i] in chars:
        i += 1
    return i


def _validate(dep: Dependency, text: str, poetry: bool) -> None:
    try:
        if poetry:
            to_pep440(text)
        else:
            SpecifierSet(text)
    except (PoetryConstraintError, InvalidSpecifier) as exc:
        raise ValueError(f"{dep.raw_name}: invalid version constraint {text!r}: {exc}") from None


def _admits(pep440: str, new: Version) -> bool:
    # The caller chose ``new`` (maybe a pre-release), so pre-releases count as admitted.
    return SpecifierSet(pep440).contains(new, prereleases=True)


def _checked(dep: Dependency, new: Version, text: str, poetry: bool) -> str:
    """``text`` if it is valid and admits ``new``; the safety net under every strategy."""
    try:
        ok = _admits(to_pep440(text) if poetry else text, new)
    except (PoetryConstraintError, InvalidSpecifier) as exc:
        raise ValueError(f"{dep.raw_name}: computed constraint {text!r} is invalid: {exc}") from None
    if not ok:
        raise ValueError(f"{dep.raw_name}: computed constraint {text!r} does not admit {new}")
    return text


# --------------------------------------------------------------------------- version text


def _release_text(epoch: int, release: list[int] | tuple[int, ...]) -> str:
    return (f"{epoch}!" if epoch else "") + ".".join(str(part) for part in release)


def _suffix(version: Version, post: bool = True) -> str:
    """The pre/post/dev part of a version, normalized (``rc1``, ``.post2``, ``.dev3``)."""
    out = f"{version.pre[0]}{version.pre[1]}" if version.pre else ""
    if post and version.post is not None:
        out += f".post{version.post}"
    return out + (f".dev{version.dev}" if version.dev is not None else "")


def _pad(release: tuple[int, ...], width: int) -> list[int]:
    return list(release) + [0] * max(0, width - len(release))


def _truncated(new: Version, width: int) -> str:
    """``new`` cut or padded to ``width`` release parts (``1.5.3`` → ``1.5``), never above ``new``.

    A pre-release keeps its suffix when the bare cut would sort above it (``2.0rc1`` → ``2.0rc1``,
    not ``2.0``); the cut-off parts are then zeros, so the value is unchanged.
    """
    text = _release_text(new.epoch, _pad(new.release, width)[:width])
    if Version(text) > new:
        text += _suffix(new, post=False)
    return text


def _public(new: Version, width: int) -> str:
    """``new`` without its local part, trailing zero parts trimmed down to ``width`` (``3.0.0`` → ``3``)."""
    release = list(new.release)
    while len(release) > width and release[-1] == 0:
        release.pop()
    return _release_text(new.epoch, _pad(tuple(release), width)) + _suffix(new)


def _boundary(new: Version, level: int, width: int, suffix: str = "") -> str:
    """The next boundary above ``new`` at ``level`` (0 = major), written with ``width`` parts."""
    width = max(width, level + 1)
    release = _pad(new.release, width)
    bumped = release[:level] + [release[level] + 1] + [0] * (width - level - 1)
    return _release_text(new.epoch, bumped) + suffix


def _last_nonzero(release: tuple[int, ...]) -> int:
    """The level an upper bound works at: ``2.0`` → 0 (major), ``1.5`` → 1; all zeros → the last part."""
    return max((i for i, part in enumerate(release) if part), default=len(release) - 1)


def _implied_upper_level(clause: _Clause) -> int:
    """The level of the upper bound a compatible or wildcard clause implies (``~=1.2`` → 0, ``^0.2`` → 1)."""
    release = clause.parsed.release
    if clause.kind == "wildcard":
        return len(release) - 1
    if clause.op == "~=":
        return len(release) - 2
    if clause.op == "~":
        return 0 if len(release) == 1 else 1
    # Poetry's caret: the left-most non-zero part, or the last part written when all are zero.
    return next((i for i, part in enumerate(release) if part), len(release) - 1)


# --------------------------------------------------------------------------- strategies


def _pin(c: _Constraint, new: Version) -> _Constraint:
    exact = c.sole_exact
    if exact is not None:  # keep the operator and spacing written (``===``, ``== 1.2``, Poetry ``=1.2``)
        return replace(c, clauses=[replace(exact, version=str(new))], seps=[])
    op = "" if c.poetry else "=="
    return replace(c, clauses=[_Clause(op, "", str(new))], seps=[], lead="", trail="")


def _bump(c: _Constraint, new: Version) -> _Constraint | None:
    if c.sole_exact is not None:
        return _pin(c, new)
    if c.unconstrained:
        return None  # no lower bound is written, so there is nothing to raise
    out = replace(c, clauses=list(c.clauses), seps=list(c.seps))
    for index, clause in enumerate(out.clauses):
        raised = _raise_lower(clause, new)
        if raised is not None:
            out.clauses[index] = raised
    return out if out.admits(new) else _widen(out, new)


def _raise_lower(clause: _Clause, new: Version) -> _Clause | None:
    """The clause with its lower bound moved up to ``new``, keeping its form and precision; None if it has none."""
    kind = clause.kind
    if kind == "lower":
        # ``>NEW`` would exclude NEW itself, so a strict bound becomes inclusive.
        return _Clause(">=", clause.gap, new.public)
    if kind == "exact":
        return replace(clause, version=str(new))
    if kind == "wildcard":
        width = len(clause.parsed.release)
        return replace(clause, version=_release_text(new.epoch, _pad(new.release, width)[:width]) + ".*")
    if kind == "compatible":
        width = max(len(clause.parsed.release), 2 if clause.op == "~=" else 1)
        return replace(clause, version=_truncated(new, width))
    return None


def _widen(c: _Constraint, new: Version) -> _Constraint | None:
    if c.sole_exact is not None:
        return _pin(c, new)  # an exact pin has nothing to widen
    out = replace(c, clauses=list(c.clauses), seps=list(c.seps))
    # Back to front, so removing or expanding a clause does not shift the ones still to visit.
    for index in reversed(range(len(out.clauses))):
        clause = out.clauses[index]
        if out.admits(new, [clause]):
            continue
        _WIDEN[clause.kind](out, index, clause, new)
    return out


def _widen_upper(c: _Constraint, index: int, clause: _Clause, new: Version) -> None:
    written = clause.parsed
    if clause.op == "<=":
        version = _public(new, len(written.release))
    else:
        version = _boundary(new, _last_nonzero(written.release), len(written.release), _suffix(written, post=False))
    c.clauses[index] = replace(clause, version=version)


def _widen_compatible(c: _Constraint, index: int, clause: _Clause, new: Version) -> None:
    """``~=1.2`` / ``^1.2`` / ``~1.2`` / ``==1.2.*`` → ``>=1.2,<3.0``: keep the floor, raise the implied ceiling."""
    written = clause.parsed
    lower = clause.version.removesuffix(".*")
    if written > new:
        _refuse_lower(c, clause, new)
    upper = _boundary(new, _implied_upper_level(clause), len(written.release))
    c.expand(index, [_Clause(">=", clause.gap, lower), _Clause("<", clause.gap, upper)])


def _widen_exact(c: _Constraint, index: int, clause: _Clause, new: Version) -> None:
    c.clauses[index] = replace(clause, version=str(new))


def _refuse_lower(c: _Constraint, clause: _Clause, new: Version) -> None:
    raise ValueError(f"{c.name}: {new} is below the lower bound {clause.op}{clause.version}; not an upgrade")


_WIDEN: dict[str, Callable[[_Constraint, int, _Clause, Version], None]] = {
    "upper": _widen_upper,
    "exclude": lambda c, index, clause, new: c.remove(index),
    "compatible": _widen_compatible,
    "wildcard": _widen_compatible,
    "exact": _widen_exact,
    "lower": lambda c, index, clause, new: _refuse_lower(c, clause, new),
    "any": lambda c, index, clause, new: None,
}


def _auto(c: _Constraint, new: Version) -> _Constraint | None:
    if c.sole_exact is not None:
        return _pin(c, new)
    return None if c.admits(new) else _widen(c, new)


_STRATEGY: dict[str, Callable[[_Constraint, Version], _Constraint | None]] = {
    "pin": _pin,
    "bump": _bump,
    "widen": _widen,
    "auto": _auto,
}
