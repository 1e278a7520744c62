"""Release-note categories in the shape of GitHub's ``.github/release.yml``, with a conventional-commit fallback.

The shape (GitHub's, read from ``.github/release.yml`` / ``.yaml``, or the same keys from nightcrew's config)::

    changelog:
      exclude: {labels: [...], authors: [...]}      # PRs left out of the notes altogether
      categories:
        - title: "Features"
          labels: ["feature", "enhancement"]        # "*" catches what no other category took
          exclude: {labels: [...], authors: [...]}  # kept out of this category (they may land in another)

How one pull request is placed (``categorize``), first rule that applies:

1. a label in ``changelog.exclude.labels`` or an author in ``changelog.exclude.authors``: excluded, by that rule;
2. breaking (a breaking label, ``type!:`` in the title, a ``BREAKING CHANGE`` line in the body's prose — not in
   an HTML comment or in code, which GitHub does not show, and not ``BREAKING CHANGE: none``/``n/a``/``no``): the
   breaking category, which is always the first one;
3. the first category (in the file's order) one of whose labels the PR carries;
4. PRs without labels (or configs without label categories): the conventional-commit type of the title
   (``feat(ui): …`` → ``feat``) — a category listing that type (or a usual alias: ``bug`` for ``fix``) as a label
   or titled like the type's mapped title, else the mapped title itself (``conventional``, configurable);
5. a ``*`` catch-all category;
6. labelled PRs that matched nothing: the conventional type as in 4;
7. a PR that some category's own ``exclude`` kept out and nothing else took: excluded, by that rule;
8. ``other_title`` ("Other changes"): no pull request is lost silently.

Labels and authors compare case-insensitively, and ``dependabot`` matches ``dependabot[bot]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from jobs.errors import NightcrewError
from jobs.models import PullInfo

CATCH_ALL = "*"

# Conventional-commit type -> category title, in the order the categories appear in the notes.
DEFAULT_CONVENTIONAL: tuple[tuple[str, str], ...] = (
    ("feat", "Features"),
    ("feature", "Features"),
    ("fix", "Bug fixes"),
    ("bugfix", "Bug fixes"),
    ("hotfix", "Bug fixes"),
    ("perf", "Performance"),
    ("security", "Security"),
    ("docs", "Documentation"),
    ("doc", "Documentation"),
    ("refactor", "Refactoring"),
    ("test", "Tests"),
    ("tests", "Tests"),
    ("deps", "Dependencies"),
    ("build", "Maintenance"),
    ("ci", "Maintenance"),
    ("chore", "Maintenance"),
    ("style", "Maintenance"),
    ("revert", "Reverts"),
)
DEFAULT_BREAKING_LABELS = ("breaking", "breaking change", "breaking-change", "breaking changes", "semver-major",
                           "semver: major", "major")  # fmt: skip
# Labels projects commonly use for a conventional type: how an unlabelled "fix: …" finds a release.yml category.
_TYPE_LABELS: dict[str, tuple[str, ...]] = {
    "feat": ("feat", "feature", "features", "enhancement", "enhancements", "new feature", "type: feature"),
    "fix": ("fix", "bug", "bugfix", "bug fix", "bugs", "type: bug"),
    "perf": ("perf", "performance", "optimization"),
    "security": ("security",),
    "docs": ("docs", "doc", "documentation"),
    "refactor": ("refactor", "refactoring"),
    "test": ("test", "tests", "testing"),
    "deps": ("deps", "dependencies", "dependency"),
    "build": ("build", "maintenance", "chore"),
    "ci": ("ci", "maintenance", "chore"),
    "chore": ("chore", "maintenance"),
    "style": ("style", "maintenance"),
    "revert": ("revert", "reverts"),
}
_TYPE_ALIASES = {"feature": "feat", "bugfix": "fix", "hotfix": "fix", "doc": "docs", "tests": "test"}
_DEPS_SCOPES = {"deps", "deps-dev", "dependencies"}

_CONVENTIONAL = re.compile(r"^\s*(?P<type>[A-Za-z][A-Za-z-]*)(?:\((?P<scope>[^()\n]*)\))?(?P<bang>!)?:\s*(?P<rest>.*)$")
_BREAKING_FOOTER = re.compile(r"(?m)^[ \t>*-]*BREAKING[ -]CHANGES?\b(?P<rest>[^\n]*)")
# "BREAKING CHANGE: none" (a PR template's answer), "**BREAKING CHANGES**: N/A.", "BREAKING CHANGE - no"
_NOT_BREAKING = re.compile(r"[\s*_:=\-\u2013\u2014]*(?:none|n/?a|no|nothing)\b[\s.!*_]*", re.IGNORECASE)
# Text GitHub does not show as prose (and does not read keywords from): fenced code, inline code, HTML comments
# (PR templates keep their instructions and examples there).
_NOT_PROSE = re.compile(r"^( {0,3})(`{3,}|~{3,})[^\n]*\n.*?(?:^ {0,3}\2[`~]*[ \t]*$|\Z)|<!--.*?(?:-->|\Z)|`[^`\n]+`",
                        re.MULTILINE | re.DOTALL)  # fmt: skip


class CategoryError(NightcrewError):
    """A release.yml (or the categories in nightcrew's config) that cannot be used: bad YAML or a bad value."""


@dataclass(frozen=True)
class Category:
    """One category: PRs carrying any of ``labels`` (``*``: any PR no other category took), minus exclusions."""

    title: str
    labels: tuple[str, ...] = ()
    exclude_labels: tuple[str, ...] = ()
    exclude_authors: tuple[str, ...] = ()

    @property
    def catch_all(self) -> bool:
        return CATCH_ALL in self.labels


@dataclass(frozen=True)
class CategoryConfig:
    """Categories and exclusions (GitHub's release.yml shape) plus nightcrew's fallbacks.

    ``conventional`` maps a conventional-commit type to a category title (order = order in the notes);
    ``source`` says where the config came from (a file path, ``"config"`` or ``"default"``).
    """

    categories: tuple[Category, ...] = ()
    exclude_labels: tuple[str, ...] = ()
    exclude_authors: tuple[str, ...] = ()
    conventional: tuple[tuple[str, str], ...] = DEFAULT_CONVENTIONAL
    breaking_labels: tuple[str, ...] = DEFAULT_BREAKING_LABELS
    breaking_title: str = "Breaking changes"
    other_title: str = "Other changes"
    dependencies_title: str = "Dependencies"
    source: str = "default"
    _breaking: Category | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A config category for breaking changes (by title or by a breaking label) takes their place first.
        breaking_labels = {_key(label) for label in self.breaking_labels}
        for category in self.categories:
            if not category.catch_all and ({_key(label) for label in category.labels} & breaking_labels
                                           or "breaking" in _key(category.title)):  # fmt: skip
                object.__setattr__(self, "_breaking", category)
                break

    @property
    def breaking_category(self) -> str:
        """The title of the category breaking changes go to (always the first category of the notes)."""
        return self._breaking.title if self._breaking else self.breaking_title

    def order(self) -> list[str]:
        """Every category title in the order of the notes: breaking first, then the configured categories,
        then the conventional ones and Dependencies, then the catch-alls and ``other_title``."""
        titles = [self.breaking_category]
        titles += [c.title for c in self.categories if not c.catch_all]
        titles += [title for _, title in self.conventional if title]
        titles.append(self.dependencies_title)
        titles += [c.title for c in self.categories if c.catch_all]
        titles.append(self.other_title)
        return list(dict.fromkeys(titles))


class Decision(NamedTuple):
    """Where one PR goes: ``category`` None means excluded, and ``rule`` names the rule that excluded it
    (``changelog.exclude.labels: wontfix``); for an included PR, ``rule`` says why it landed where it did."""

    category: str | None
    rule: str
    breaking: bool = False


@dataclass(frozen=True)
class Conventional:
    """A title read as a conventional commit: ``type(scope)!: description``."""

    type: str
    scope: str | None
    breaking: bool
    description: str


def parse_conventional(title: str, known: Iterable[str] | None = None) -> Conventional | None:
    """The conventional-commit prefix of ``title``, or None; with ``known``, only for those types
    (``Note: …`` is prose, not a type)."""
    found = _CONVENTIONAL.match(title)
    if not found:
        return None
    kind = found.group("type").lower()
    if known is not None and kind not in {k.lower() for k in known}:
        return None
    scope = found.group("scope")
    return Conventional(kind, scope.strip() if scope else None, bool(found.group("bang")), found.group("rest").strip())


def prose(text: str) -> str:
    """``text`` without what GitHub does not show as prose: fenced and inline code, HTML comments (each becomes a
    space, so the words around it stay apart). Line endings normalized to ``\\n``."""
    return _NOT_PROSE.sub(" ", (text or "").replace("\r\n", "\n")) if text else ""


def _breaking_marker(text: str) -> bool:
    """Whether ``text`` has a ``BREAKING CHANGE`` line that does not say there is none."""
    return any(not _NOT_BREAKING.fullmatch(found["rest"]) for found in _BREAKING_FOOTER.finditer(text))


def is_breaking(title: str, body: str = "", labels: Iterable[str] = (),
                config: CategoryConfig | None = None) -> str | None:  # fmt: skip
    """Why a change is breaking (``!``, ``BREAKING CHANGE``, ``label breaking``), or None."""
    config = config or CategoryConfig()
    known = {t for t, _ in config.conventional} | set(_TYPE_LABELS)
    parsed = parse_conventional(title, known)
    if parsed and parsed.breaking:
        return "breaking: '!' in the title"
    if _breaking_marker(prose(body)) or _breaking_marker(prose(title)):
        return "breaking: BREAKING CHANGE"
    breaking_labels = {_key(label) for label in config.breaking_labels}
    if config._breaking:
        breaking_labels |= {_key(label) for label in config._breaking.labels}
    for label in labels:
        if _key(label) in breaking_labels:
            return f"breaking: label {label}"
    return None


def categorize(pull: PullInfo, config: CategoryConfig | None = None) -> Decision:
    """Where ``pull`` goes in the notes, or the named rule that leaves it out (see the module's docstring)."""
    return decide(pull.title, labels=pull.labels, author=pull.author, body=pull.body, config=config)


def decide(title: str, *, labels: Iterable[str] = (), author: str | None = None, body: str = "",
           config: CategoryConfig | None = None) -> Decision:  # fmt: skip
    """``categorize`` for any change (a PR, or a direct commit with no labels)."""
    config = config or CategoryConfig()
    labels = tuple(labels)
    label_keys = {_key(label): label for label in labels}

    for label in config.exclude_labels:
        if _key(label) in label_keys:
            return Decision(None, f"changelog.exclude.labels: {label}")
    if author and _author_in(author, config.exclude_authors):
        return Decision(None, f"changelog.exclude.authors: {author}")

    blocked: list[str] = []  # category-level exclusions that kept the PR out

    def admits(category: Category) -> bool:
        for label in category.exclude_labels:
            if _key(label) in label_keys:
                blocked.append(f"categories[{category.title}].exclude.labels: {label}")
                return False
        if author and _author_in(author, category.exclude_authors):
            blocked.append(f"categories[{category.title}].exclude.authors: {author}")
            return False
        return True

    breaking = is_breaking(title, body, labels, config)
    if breaking and (config._breaking is None or admits(config._breaking)):
        return Decision(config.breaking_category, breaking, True)

    for category in config.categories:
        if category.catch_all or category is config._breaking:
            continue
        matched = next((label for label in category.labels if _key(label) in label_keys), None)
        if matched is not None and admits(category):
            return Decision(category.title, f"label: {label_keys[_key(matched)]}")

    label_categories = any(not c.catch_all for c in config.categories)
    conventional_first = not labels or not label_categories
    if conventional_first:
        found = _by_type(title, config, admits)
        if found:
            return found
    for category in config.categories:
        if category.catch_all and admits(category):
            return Decision(category.title, "catch-all *")
    if not conventional_first:
        found = _by_type(title, config, admits)
        if found:
            return found
    if blocked:
        return Decision(None, blocked[0])
    return Decision(config.other_title, "no category matched")


def conventional_type(title: str, config: CategoryConfig | None = None) -> str | None:
    """The conventional type of ``title`` as the map knows it (scope ``deps`` makes ``build(deps)`` a ``deps``)."""
    config = config or CategoryConfig()
    known = {t for t, _ in config.conventional} | set(_TYPE_LABELS) | set(_TYPE_ALIASES)
    parsed = parse_conventional(title, known)
    if parsed is None:
        return None
    mapping = dict(config.conventional)
    if parsed.scope and parsed.scope.lower() in _DEPS_SCOPES and "deps" in mapping:
        return "deps"
    return parsed.type


def _by_type(title: str, config: CategoryConfig, admits: Any) -> Decision | None:
    kind = conventional_type(title, config)
    if kind is None:
        return None
    mapping = {t.lower(): v for t, v in config.conventional}
    mapped = mapping.get(kind)
    aliases = set(_TYPE_LABELS.get(_TYPE_ALIASES.get(kind, kind), (kind,))) | {kind}
    # A configured category that lists the type (or a usual label for it), or carries the mapped title.
    for category in config.categories:
        if category.catch_all or category is config._breaking:
            continue
        keys = {_key(label) for label in category.labels}
        if keys & aliases or (mapped and _title_key(category.title) == _title_key(mapped)):
            if admits(category):
                return Decision(category.title, f"conventional: {kind}")
    if mapped:
        return Decision(mapped, f"conventional: {kind}")
    return None


# -- loading ---------------------------------------------------------------------------------------


def find_release_yml(root: Path) -> Path | None:
    """``.github/release.yml`` (or ``.yaml``) of the repository at ``root``, if it has one."""
    for name in ("release.yml", "release.yaml"):
        path = root / ".github" / name
        if path.is_file():
            return path
    return None


def load_release_yml(path: Path) -> CategoryConfig | None:
    """The categories of a ``release.yml``; None when the file does not exist or has no ``changelog`` key.

    Raises ``CategoryError`` (naming the file) for YAML that does not parse or values of the wrong kind.
    """
    import yaml  # pyyaml: only needed when a repository has a release.yml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CategoryError(f"cannot read: {exc}", str(path)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise CategoryError(f"not valid YAML: {getattr(exc, 'problem', None) or exc}", where) from None
    if data is None:
        return None
    if not isinstance(data, dict):
        raise CategoryError("expected a mapping with a 'changelog' key", str(path))
    if data.get("changelog") is None:
        return None
    return config_from_dict(data, source=str(path))


def config_from_dict(data: Mapping[str, Any], *, source: str = "config") -> CategoryConfig:
    """A ``CategoryConfig`` from a plain mapping: GitHub's shape (optionally under ``changelog``), or nightcrew's
    flat keys (``exclude_labels``/``exclude_authors`` at the top and in each category). Optional nightcrew keys:
    ``conventional`` (type -> title, merged over the defaults; ``""`` drops a type), ``breaking_labels``,
    ``breaking_title``, ``other_title``, ``dependencies_title``. Unknown keys are ignored.
    Raises ``CategoryError`` for values of the wrong kind."""
    if not isinstance(data, Mapping):
        raise CategoryError("expected a mapping", source)
    body = data.get("changelog", data)
    if not isinstance(body, Mapping):
        raise CategoryError("'changelog' must be a mapping", source)
    exclude_labels, exclude_authors = _exclusions(body, "changelog", source)
    raw_categories = body.get("categories") or ()
    if not isinstance(raw_categories, (list, tuple)):
        raise CategoryError("'categories' must be a list", source)
    categories = []
    for index, raw in enumerate(raw_categories):
        where = f"categories[{index}]"
        if hasattr(raw, "model_dump"):  # a pydantic settings object
            raw = raw.model_dump()
        if not isinstance(raw, Mapping):
            raise CategoryError(f"{where} must be a mapping", source)
        title = raw.get("title")
        if not isinstance(title, str) or not title.strip():
            raise CategoryError(f"{where}.title must be a non-empty string", source)
        labels = _strings(raw.get("labels"), f"{where}.labels", source)
        cat_labels, cat_authors = _exclusions(raw, where, source)
        categories.append(Category(title.strip(), labels, cat_labels, cat_authors))

    extra: dict[str, Any] = {}
    for key in ("breaking_title", "other_title", "dependencies_title"):
        value = body.get(key, data.get(key))
        if value is not None:
            if not isinstance(value, str) or not value.strip():
                raise CategoryError(f"{key} must be a non-empty string", source)
            extra[key] = value.strip()
    breaking_labels = body.get("breaking_labels", data.get("breaking_labels"))
    if breaking_labels is not None:
        extra["breaking_labels"] = _strings(breaking_labels, "breaking_labels", source)
    conventional = body.get("conventional", data.get("conventional"))
    if conventional is not None:
        extra["conventional"] = _merge_conventional(conventional, source)
    return CategoryConfig(categories=tuple(categories), exclude_labels=exclude_labels,
                          exclude_authors=exclude_authors, source=source, **extra)  # fmt: skip


def _exclusions(raw: Mapping[str, Any], where: str, source: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    nested = raw.get("exclude")
    if nested is not None and not isinstance(nested, Mapping):
        raise CategoryError(f"{where}.exclude must be a mapping", source)
    nested = nested or {}
    labels = _strings(nested.get("labels"), f"{where}.exclude.labels", source)
    labels += _strings(raw.get("exclude_labels"), f"{where}.exclude_labels", source)
    authors = _strings(nested.get("authors"), f"{where}.exclude.authors", source)
    authors += _strings(raw.get("exclude_authors"), f"{where}.exclude_authors", source)
    return tuple(dict.fromkeys(labels)), tuple(dict.fromkeys(authors))


def _strings(value: object, where: str, source: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        value = [value]  # YAML lets people write one label without a list
    if not isinstance(value, (list, tuple)):
        raise CategoryError(f"{where} must be a list of strings", source)
    out = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise CategoryError(f"{where} must be a list of strings", source)
        text = str(item).strip()
        if text:
            out.append(text)
    return tuple(out)


def _merge_conventional(value: object, source: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        raise CategoryError("conventional must map commit types to category titles", source)
    merged = dict(DEFAULT_CONVENTIONAL)
    for kind, title in value.items():
        if not isinstance(kind, str) or not isinstance(title, str):
            raise CategoryError("conventional must map commit types to category titles", source)
        merged[kind.strip().lower()] = title.strip()
    return tuple((kind, title) for kind, title in merged.items() if title)


# -- helpers ---------------------------------------------------------------------------------------


def _key(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def _title_key(title: str) -> str:
    # "🐛 Bug Fixes" and "Bug fixes" name the same category
    return " ".join(re.sub(r"[^\w\s]", " ", title).split()).casefold()


def _bare(author: str) -> str:
    author = author.strip().lstrip("@").casefold()
    return author[: -len("[bot]")] if author.endswith("[bot]") else author


def _author_in(author: str, authors: Iterable[str]) -> bool:
    return _bare(author) in {_bare(a) for a in authors}


def author_in(author: str | None, authors: Iterable[str]) -> bool:
    """Whether ``author`` is one of ``authors`` (case-insensitive, ``@`` and a ``[bot]`` suffix ignored)."""
    return bool(author) and _author_in(author or "", authors)
