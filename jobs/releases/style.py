"""The house style of a project's release notes, learned from its notes file, and a draft rendered in it.

A repository already shows how its notes look: the notes file (``CHANGELOG.md``, ``CHANGES.rst``,
``docs/release-notes.md``...) as it stood before the release. From its most recent release sections this module
learns

* the markup (Markdown or reStructuredText) and the release heading (``## 1.2.0 (May 3, 2026)``,
  ``1.2.0 (2026-05-03)`` with its underline, ``## [1.2.0](.../compare/1.1.0...1.2.0) - 2026-05-03``, ``## v1.2.0``),
  with the version, the previous version and the date as placeholders;
* the category headings actually used, in their usual order, their markup, and the items each held;
* the item shape: bullet, where the PR reference goes and how it is written (``(#123)``, ``[#123](url)``,
  ``:issue:`123```, ``(`#123 <url>`__)``, a bare URL), a period before or after it;
* which kinds of change the notes list at all (CI, tests, tooling, bot dependency bumps, docs, release chores are
  left out when earlier notes never list such a thing).

``classify`` puts a pull request under the heading the editor would use (its conventional type, gitmoji or leading
verb gives a kind; the headings' names and the words of the items they held decide among them), ``render`` writes
the draft. Nothing is invented: every item is a PR's own title, linked as the house links PRs.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import PurePosixPath

from jobs.changelogs.parse import Release, find_releases, is_adornment, split_lines

RECENT = 8  # release sections learned from

# -- kinds of change ----------------------------------------------------------------------------------

KINDS = ("breaking", "security", "removed", "deprecated", "added", "changed", "fixed", "performance", "docs",
         "internal", "deps", "release")

# words of a category heading -> the kinds it holds
_HEADING_WORDS = {
    "breaking": "breaking", "incompatible": "breaking", "backwards-incompatible": "breaking",
    "security": "security",
    "removed": "removed", "removals": "removed", "removal": "removed", "dropped": "removed",
    "deprecated": "deprecated", "deprecations": "deprecated", "deprecation": "deprecated",
    "added": "added", "features": "added", "feature": "added", "new": "added", "enhancements": "added",
    "additions": "added",
    "changed": "changed", "changes": "changed", "improvements": "changed", "improved": "changed",
    "updates": "changed", "other": "changed", "misc": "internal", "miscellaneous": "internal",
    "fixed": "fixed", "fixes": "fixed", "bugfixes": "fixed", "bug": "fixed", "bugs": "fixed", "bugfix": "fixed",
    "performance": "performance", "perf": "performance",
    "documentation": "docs", "docs": "docs", "doc": "docs",
    "internal": "internal", "contributor-facing": "internal", "development": "internal", "maintenance": "internal",
    "packaging": "internal", "trivial": "internal", "chores": "internal", "infrastructure": "internal",
    "dependencies": "deps", "dependency": "deps",
}

_CONVENTIONAL = re.compile(r"^\s*(?P<type>[A-Za-z]+)(?:\((?P<scope>[^)]*)\))?(?P<bang>!)?:\s*")
_CONVENTIONAL_KINDS = {
    "feat": "added", "feature": "added", "fix": "fixed", "bugfix": "fixed", "docs": "docs", "doc": "docs",
    "perf": "performance", "refactor": "internal", "test": "internal", "tests": "internal", "ci": "internal",
    "build": "internal", "chore": "internal", "style": "internal", "deps": "deps", "security": "security",
    "revert": "fixed", "release": "release",
}
_GITMOJI = {
    "🐛": "fixed", "🚑": "fixed", "🩹": "fixed", "✨": "added", "🎉": "added", "📝": "docs", "📄": "docs", "📚": "docs",
    "♻": "internal", "🔧": "internal", "🔨": "internal", "👷": "internal", "💚": "internal", "✅": "internal",
    "🧪": "internal", "🚨": "internal", "⬆": "deps", "⬇": "deps", "📌": "deps", "⚡": "performance",
    "🔒": "security", "🔐": "security", "🔥": "removed", "💥": "breaking", "🗑": "deprecated", "🔖": "release",
}
_LEADING_VERBS = {
    "added": "add adds added support supports introduce introduces implement implements allow allows enable "
             "enables expose exposes new provide provides accept accepts",
    "fixed": "fix fixes fixed correct corrects avoid avoids handle handles prevent prevents resolve resolves catch "
             "catches repair guard ensure stop stops restore restores don't do not properly honor honour respect "
             "reject rejects skip clamp",
    "deprecated": "deprecate deprecates deprecated",
    "removed": "remove removes removed drop drops dropped delete deletes",
    "docs": "document documents docs doc readme typo typos",
    "performance": "speed speeds optimize optimise memoize cache faster",
}
_VERB_KIND = {word: kind for kind, words in _LEADING_VERBS.items() for word in words.split()}
# words that make a change internal whatever its verb: the tooling around the code, not the code
_INTERNAL_WORDS = re.compile(
    r"\b(?:ci|github actions?|workflows?|pre-commit|precommit|coverage|codecov|flaky|lint(?:ing|er)?|ruff|mypy|"
    r"pyright|pylint|flake8|black|isort|tox\.ini|nox|noxfile|test suite|tests?|testing|pytest|zizmor|dependabot|"
    r"renovate|readthedocs|rtd|gitignore|codeowners|funding|issue templates?|pr template|makefile|tooling|"
    r"typos?|announcement bar|docs preview|deploy(?:ment)? preview)\b", re.I)
_DOCS_WORDS = re.compile(r"\b(?:docs?|documentation|readme|docstrings?|changelog|examples?|tutorial|howto|"
                         r"llms\.txt|mkdocs|sphinx)\b", re.I)
_RELEASE_CHORE = re.compile(
    r"^\s*(?:(?:chore|build|release|docs)(?:\([^)]*\))?:\s*)?(?:"
    r"(?:release|releasing|prepare(?: for)?(?: the)?(?: release)?|preparing(?: release)?|cut|tag)(?: of)?(?: version)?"
    r"(?: v?\d+(?:\.\d+)+\S*)?"
    r"|(?:version|bump(?:ed)?(?: the)? version(?: to)?|bump(?: to)?) v?\d+(?:\.\d+)+\S*"
    r"|(?:update|updated|add|write|finali[sz]e|prepare)(?: the)? (?:changelog|change log|history|news|release notes)"
    r"(?: (?:for|to|ahead of)(?: release| version)? v?\d+(?:\.\d+)+\S*)?(?:\.md|\.rst)?"
    r"|v?\d+(?:\.\d+)+\S*(?: release)?"
    r")\s*[.!]?\s*$", re.I)
_CHORE_CORE = frozenset("version release changelog changes.md changelog.md changes.rst changelog.rst history news "
                        "notes".split())
_CHORE_WORDS = _CHORE_CORE | frozenset("bump bumped update updated prepare prep preparing cut tag and for to the "
                                       "of a final chore build".split())
_PR_SUFFIX = re.compile(r"(?:\s*\(#\d+\))+\s*$")
_BOT_BUMP = re.compile(r"^(?:\[pre-commit\.ci\]|pre-commit autoupdate|(?:[a-z]+(?:\([^)]*\))?!?:\s*)?"
                       r"(?:bump|update|upgrade) (?:the \S+ group|\S+ from \S+ to|dependency|\S+ requirement|"
                       r"\S+ to v?\d\S*$))", re.I)


def release_chore(title: str, version: str | None = None) -> bool:
    """A PR that only cuts the release: ``Release 1.2.0``, ``Version 0.28.0.``, ``Prepare release 9.0.2``,
    ``Update CHANGELOG.md``, ``Bump version to 1.2``, a bare ``v1.2.0``."""
    text = _PR_SUFFIX.sub("", " ".join(title.split()))
    if not text:
        return False
    if _RELEASE_CHORE.match(text):
        return True
    # "Bump version and update changelog", "Release prep: version, changelog": only release words
    words = re.findall(r"[\w.'-]+", text.lower())
    return bool(words) and any(w in _CHORE_CORE for w in words) and all(
        w in _CHORE_WORDS or re.fullmatch(r"v?\d+(?:\.\d+)+\w*", w) for w in words)


def strip_gitmoji(title: str) -> str:
    """``🐛 fix(x): y`` -> ``fix(x): y``: a leading emoji (gitmoji or ``:bug:`` shortcode) goes."""
    text = title.lstrip()
    text = re.sub(r"^:[a-z0-9_+-]+:\s*", "", text)
    while text and (ord(text[0]) > 0x2100 or text[0] in "\ufe0f\u200d"):
        text = text[1:]
    return text.lstrip()


def kind_of(title: str) -> str:
    """The kind of change a PR title announces (see ``KINDS``); ``changed`` when nothing says more."""
    text = _PR_SUFFIX.sub("", " ".join(title.split()))
    if release_chore(text):
        return "release"
    if _BOT_BUMP.match(text):
        return "deps"
    stripped = text
    for emoji, kind in _GITMOJI.items():
        if stripped.startswith(emoji):
            found = kind
            stripped = stripped[len(emoji):].lstrip("\ufe0f ").strip()
            conventional = _CONVENTIONAL.match(stripped)
            if conventional and conventional["type"].lower() == "docs":
                return "docs"
            return found if found != "internal" or not conventional else \
                _CONVENTIONAL_KINDS.get(conventional["type"].lower(), found)
    conventional = _CONVENTIONAL.match(stripped)
    if conventional:
        if conventional["bang"]:
            return "breaking"
        kind = _CONVENTIONAL_KINDS.get(conventional["type"].lower())
        if kind is not None:
            if kind == "internal" and (conventional["scope"] or "").lower() in ("deps", "deps-dev"):
                return "deps"
            return kind
        stripped = stripped[conventional.end():]
    if _INTERNAL_WORDS.search(stripped) and not re.search(r"\b(?:test ?client|testclient|pytest plugin)\b",
                                                          stripped, re.I):
        return "internal"
    first = re.sub(r"[^\w'-]", "", stripped.split(" ", 1)[0].lower()) if stripped else ""
    kind = _VERB_KIND.get(first)
    if kind is None and _DOCS_WORDS.search(stripped) and first in ("update", "improve", "clarify", "mention",
                                                                  "explain", "add", "adds", "expand", "rewrite"):
        return "docs"
    if kind == "added" and _DOCS_WORDS.search(stripped):
        return "docs"
    return kind or "changed"


def heading_kinds(heading: str) -> set[str]:
    words = re.findall(r"[a-z][a-z'-]*", heading.lower())
    found = {_HEADING_WORDS[w] for w in words if w in _HEADING_WORDS}
    if "bug" in words and "fixes" in words:
        found.add("fixed")
    return found


# -- the learned style ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Category:
    title: str  # as written, "{version}" where it named the release ("Bug fixes - {version}")
    kinds: frozenset[str]
    words: Counter = field(default_factory=Counter, compare=False)  # the words of the items it held
    items: int = 0


@dataclass(frozen=True)
class HouseStyle:
    markup: str  # "markdown" or "rst"
    heading: str  # with {version}, {previous}, {date}
    heading_rule: str | None = None  # RST: the underline character
    heading_overline: bool = False
    heading_level: int = 2  # Markdown: number of "#"
    date_format: str | None = None
    category_level: int = 3  # Markdown: number of "#"; 0 when categories are "Title:" lines
    category_rule: str | None = None  # RST underline of a category
    categories: tuple[Category, ...] = ()
    bullet: str = "-"
    ref: str = " (#{n})"  # with {n} and {url}
    ref_url: str | None = None  # the learned link, with {n}
    period_before_ref: bool = False
    period_after_ref: bool = False
    listed: frozenset[str] = frozenset()  # kinds of change earlier notes list
    order: str = "merged"  # items within a category: "ascending" / "descending" PR number, or as "merged"
    linked: bool = False  # (nearly) every item links a PR: changes without one are not notes material
    item_chars: int = 0  # the mean length of an item's text, references left out
    credit: str = ""  # how an item credits its author, with {login} (" by @{login}", " -- by {{user}}`{login}`")
    source: str = ""

    def to_json(self) -> dict:
        return {"source": self.source, "markup": self.markup, "heading": self.heading,
                "categories": [c.title for c in self.categories], "bullet": self.bullet, "ref": self.ref,
                "listed_kinds": sorted(self.listed)}


_DATE_FORMATS = (
    (re.compile(r"\d{4}-\d{2}-\d{2}"), "%Y-%m-%d"),
    (re.compile(r"\d{4}/\d{2}/\d{2}"), "%Y/%m/%d"),
    (re.compile(r"(?:January|February|March|April|May|June|July|August|September|October|November|December) "
                r"\d{1,2}, \d{4}"), "%B {day}, %Y"),
    (re.compile(r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2}, \d{4}"), "%b {day}, %Y"),
    (re.compile(r"\d{1,2} (?:January|February|March|April|May|June|July|August|September|October|November|"
                r"December) \d{4}"), "{day} %B %Y"),
    (re.compile(r"\d{8}"), "%Y%m%d"),
)

_BULLET = re.compile(r"^(?P<bullet>[-*+])\s+(?P<text>\S.*)$")
_MD_HEADING = re.compile(r"^(?P<marks>#{1,6})\s+(?P<title>.+?)\s*#*\s*$")
_COLON_TITLE = re.compile(r"^(?P<title>[A-Z][\w /&'-]{2,40}):\s*$")

# references to a PR at the end of an item, each with the number in group "n" and a link in group "url"
_REFS = (
    ("mdlink", re.compile(r"\[#(?P<n>\d+)\]\((?P<url>[^)\s]+)\)")),
    ("rstlink", re.compile(r"`#(?P<n>\d+) <(?P<url>[^>\s]+)>`__?")),
    ("role", re.compile(r":(?P<role>issue|pr|gh|ghpull|bug|pull):`(?P<n>\d+)`")),
    ("myst", re.compile(r"\{(?P<role>issue|pr|gh)\}`(?P<n>\d+)`")),
    ("url", re.compile(r"(?P<url>https?://\S+?/(?:pull|issues)/(?P<n>\d+))(?![\w/])")),
    ("plain", re.compile(r"(?<![\w/])#(?P<n>\d+)\b")),
)


def _markup(path: str) -> str:
    return "rst" if PurePosixPath(path).suffix.lower() in (".rst", ".rest", ".txt") else "markdown"


def _template(text: str, version: str, previous: str | None) -> tuple[str, str | None]:
    """``text`` with braces escaped and the version, the previous version and a date as placeholders."""
    out = text.replace("{", "{{").replace("}", "}}")
    date_format = None
    for pattern, fmt in _DATE_FORMATS:
        found = pattern.search(out)
        if found:
            out = out[:found.start()] + "{date}" + out[found.end():]
            date_format = fmt
            break
    for value, name in ((previous, "previous"), (version, "version")):
        if value:
            out = re.sub(rf"(?<![\w.]){re.escape(value)}(?![\w]|\.\d)", "{" + name + "}", out)
    return out, date_format


def format_date(fmt: str | None, day: date) -> str:
    if not fmt:
        return day.isoformat()
    return day.strftime(fmt.replace("{day}", str(day.day)))


def learn(text: str, path: str) -> HouseStyle | None:
    """The house style of the notes file ``text`` (at ``path``), or None when it holds no release section."""
    lines = split_lines(text)
    releases = find_releases(text, path)
    if not releases:
        return None
    top = min(r.level for r in releases)
    ordered = sorted((r for r in releases if r.level == top), key=lambda r: max(r.parsed), reverse=True)
    recent = ordered[:RECENT]
    newest = recent[0]
    markup = _markup(path)
    previous = ordered[1].versions[0] if len(ordered) > 1 else None
    heading, date_format = _heading_of(lines, newest, markup, previous)
    style = {"markup": markup, "heading": heading, "date_format": date_format, "source": path}
    if markup == "rst":
        rule = lines[newest.line] if newest.line < len(lines) else ""
        style["heading_rule"] = rule.strip()[:1] if is_adornment(rule) else "="
        style["heading_overline"] = newest.start < newest.line - 1 and bool(is_adornment(lines[newest.line - 2]))
    else:
        marks = _MD_HEADING.match(lines[newest.line - 1].strip())
        style["heading_level"] = len(marks["marks"]) if marks else 2
    categories: dict[str, dict] = {}
    order: list[list[str]] = []
    bullets: Counter = Counter()
    refs: Counter = Counter()
    ref_urls: Counter = Counter()
    period_before = period_after = with_items = 0
    category_levels: Counter = Counter()
    category_rules: Counter = Counter()
    release_rules = {style.get("heading_rule")}
    trends: list[float] = []
    item_lengths: list[int] = []
    credits: Counter = Counter()
    for release in recent:
        seen: list[str] = []
        current: str | None = None
        numbers: dict[str | None, list[int]] = {}
        body = lines[release.line:release.end]
        index = 0
        while index < len(body):
            line = body[index]
            title = None
            if markup == "markdown":
                found = _MD_HEADING.match(line)
                if found and index:
                    title = found["title"]
                    category_levels[len(found["marks"])] += 1
            elif (index + 1 < len(body) and line.strip() and not line[0].isspace() and is_adornment(body[index + 1])
                  and not is_adornment(line) and body[index + 1].strip()[0] not in release_rules):
                title = line.strip()
                category_rules[body[index + 1].strip()[0]] += 1
            if title is None and (colon := _COLON_TITLE.match(line)) and not line.startswith((" ", "-", "*")):
                title = colon["title"]
                category_levels[0] += 1
            if title is not None:
                name, _ = _template(title.strip().strip("*_").strip(), release.versions[0], None)
                current = name
                if name not in seen:
                    seen.append(name)
                categories.setdefault(name, {"words": Counter(), "items": 0})
                index += 1
                continue
            bullet = _BULLET.match(line)
            if bullet:
                item = [bullet["text"]]
                index += 1
                while index < len(body) and (body[index].startswith(("  ", "\t")) and body[index].strip()):
                    item.append(body[index].strip())
                    index += 1
                joined = " ".join(item)
                item_lengths.append(len(_strip_refs(joined)))
                credit = _credit_shape(joined)
                if credit:
                    credits[credit] += 1
                bullets[bullet["bullet"]] += 1
                with_items += 1
                shape = _ref_shape(joined)
                if shape is not None:
                    numbers.setdefault(current, []).append(shape[4])
                    refs[shape[0]] += 1
                    if shape[1]:
                        ref_urls[shape[1]] += 1
                    period_before += shape[2]
                    period_after += shape[3]
                if current is not None:
                    categories[current]["items"] += 1
                    categories[current]["words"].update(_features(joined))
                continue
            index += 1
        if seen:
            order.append(seen)
        trends += [_trend(found) for found in numbers.values() if len(found) >= 2]
    if not with_items:
        return None
    style["item_chars"] = round(sum(item_lengths) / len(item_lengths)) if item_lengths else 0
    if credits and sum(credits.values()) * 2 >= with_items:  # most items credit their author: so does the draft
        style["credit"] = credits.most_common(1)[0][0]
    if trends:
        mean = sum(trends) / len(trends)
        style["order"] = "ascending" if mean > 0.5 else "descending" if mean < -0.5 else "merged"
    style["bullet"] = bullets.most_common(1)[0][0]
    if refs and sum(refs.values()) * 2 >= with_items:
        style["ref"] = refs.most_common(1)[0][0]
        style["ref_url"] = ref_urls.most_common(1)[0][0] if ref_urls else None
        style["period_before_ref"] = period_before * 2 > sum(refs.values())
        style["period_after_ref"] = period_after * 2 > sum(refs.values())
        style["linked"] = sum(refs.values()) >= 0.8 * with_items
    else:
        style["ref"] = ""
    if category_levels:
        style["category_level"] = category_levels.most_common(1)[0][0]
    if category_rules:
        style["category_rule"] = category_rules.most_common(1)[0][0]
    style["categories"] = tuple(Category(name, frozenset(heading_kinds(name)), info["words"], info["items"])
                                for name, info in sorted(categories.items(), key=lambda kv: _rank(kv[0], order)))
    # what the notes list: the kinds of the items they held (by the same reading as PR titles) and of the headings
    listed: Counter = Counter()
    for release in recent:
        for line in lines[release.line:release.end]:
            bullet = _BULLET.match(line)
            if bullet:
                listed[kind_of(_strip_refs(bullet["text"]))] += 1
    kinds = {k for k, n in listed.items() if n >= max(2, 0.08 * with_items)}
    # a heading's name vouches for user-facing kinds only: a "Misc" heading holds a towncrier fragment now and
    # then, not every CI and test change (those are listed when earlier items show them)
    for category in style["categories"]:
        kinds |= category.kinds - {"internal", "deps"}
    style["listed"] = frozenset(kinds | {"added", "changed", "fixed", "breaking", "security", "removed",
                                         "deprecated", "performance"})
    return HouseStyle(**style)


def _trend(numbers: list[int]) -> float:
    """+1 when the numbers only go up in writing order, -1 when they only go down (Kendall's tau)."""
    agree = disagree = 0
    for i, a in enumerate(numbers):
        for b in numbers[i + 1:]:
            agree += b > a
            disagree += b < a
    return (agree - disagree) / max(agree + disagree, 1)


def _rank(name: str, orders: list[list[str]]) -> tuple[float, str]:
    positions = [seen.index(name) / max(len(seen), 1) for seen in orders if name in seen]
    return (sum(positions) / len(positions) if positions else 1.0, name)


def _heading_of(lines: list[str], release: Release, markup: str, previous: str | None) -> tuple[str, str | None]:
    title = release.heading
    if markup == "markdown":
        found = _MD_HEADING.match(title)
        title = found["title"] if found else title
    return _template(title, release.versions[0], previous)


def _strip_refs(text: str) -> str:
    for _, pattern in _REFS:
        text = pattern.sub("", text)
    return re.sub(r"\s*\(\s*[,\s]*\)\s*", " ", text).strip(" .")


# how notes credit a person: "by @login", "by [@login](https://github.com/login)", towncrier's roles
_CREDITS = (
    (re.compile(r"(?P<lead>\s+(?:--\s+)?by\s+)\[@(?P<login>[\w-]+)\]\(https?://[^)]+/(?P=login)\)", re.I),
     "[@{login}](https://github.com/{login})"),
    (re.compile(r"(?P<lead>\s+(?:--\s+)?(?:by|thanks(?: to)?)\s+)@(?P<login>[\w-]+)", re.I), "@{login}"),
    (re.compile(r"(?P<lead>\s+(?:--\s+)?(?:by|thanks(?: to)?)\s+)\{user\}`(?P<login>[\w-]+)`", re.I),
     "{{user}}`{login}`"),
    (re.compile(r"(?P<lead>\s+(?:--\s+)?(?:by|thanks(?: to)?)\s+):user:`(?P<login>[\w-]+)`", re.I),
     ":user:`{login}`"),
)


def _credit_shape(item: str) -> str | None:
    """The credit form of an item (its words before the handle kept: " by ", " -- by "), with {login}."""
    for pattern, form in _CREDITS:
        found = pattern.search(item)
        if found:
            tail = re.match(r"\s+in\b(?=\s)", item[found.end():])  # GitHub's "by @x in #12"
            return found["lead"].replace("{", "{{").replace("}", "}}") + form + (tail.group(0) if tail else "")
    return None


def _ref_shape(item: str) -> tuple[str, str | None, bool, bool, int] | None:
    """(reference template, link template or None, period before the reference, period after it, the number) of
    the last PR reference of an item, or None when it has none at its end."""
    best = None
    for _name, pattern in _REFS:  # the reference that ends last; the outer form when two end together
        for found in pattern.finditer(item):
            if best is None or found.end() > best.end() or (found.end() == best.end() and found.start() < best.start()):
                best = found
    if best is None:
        return None
    found = best
    # the reference's surroundings: "(...)", "[...]", a leading space; the tail after it must be short
    start = found.start()
    while start > 0 and item[start - 1] in " ([":
        start -= 1
    tail = item[found.end():]
    if len(tail.strip(" .)]")) > 0 and not re.fullmatch(r"[\s.)\],]*", tail):
        return None
    before = item[:start].rstrip()
    lead = item[start:found.start()]
    lead = lead if lead.strip() else " "
    close = re.match(r"[)\]]*", tail).group(0)  # type: ignore[union-attr]
    url = found.groupdict().get("url")
    number = found["n"]
    ref_text = found.group(0).replace("{", "{{").replace("}", "}}")
    url_template = url.replace(number, "{n}") if url else None
    ref_text = ref_text.replace(url, "{url}") if url else ref_text
    ref_text = re.sub(rf"(?<!\d){number}(?!\d)", "{n}", ref_text)
    lead = lead.replace("{", "{{").replace("}", "}}")
    return (lead + ref_text + close, url_template, before.endswith("."), tail.rstrip().endswith("."),
            int(number))


_STOP = frozenset("a an the of to in for and or on with from by is are be as at it its this that when not no into "
                  "now can will use using".split())


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z][a-z0-9_'-]+", _strip_refs(text).lower()) if w not in _STOP]


# -- placing and rendering ------------------------------------------------------------------------------


def _features(text: str) -> list[str]:
    """The words of an item or a title, its first word marked, and its kind of change as a word of its own (three
    times: the kind says more than any one word)."""
    plain = strip_gitmoji(text)
    conventional = _CONVENTIONAL.match(plain)
    rest = plain[conventional.end():] if conventional else plain
    words = _words(rest)
    first = ["first:" + words[0]] if words else []
    return words + first + ["kind:" + kind_of(text)] * 3


def classify(title: str, style: HouseStyle) -> tuple[str | None, str]:
    """(category title, kind) for a PR; the title is None when the house lists no such kind of change.

    A naive Bayes choice among the house's headings, trained on the items each heading held in earlier notes
    (their words, first word and kind of change), with the heading's own name counting as items of its kinds:
    so a house that files "Use X instead of Y" under "Fixed" gets it there."""
    kind = kind_of(title)
    if kind not in style.listed:
        return None, kind
    if not style.categories:
        return "", kind
    features = _features(title)
    total = sum(c.items for c in style.categories) + 2 * len(style.categories)
    vocabulary = len({w for c in style.categories for w in c.words} | set(features)) or 1
    best, best_score = None, -math.inf
    for position, category in enumerate(style.categories):
        counts = Counter(category.words)
        for named in category.kinds:  # the heading's name: two items of each kind it names
            counts["kind:" + named] += 3
        size = sum(counts.values())
        score = math.log((category.items + 2) / total)
        for feature in features:
            score += math.log((counts.get(feature, 0) + 0.5) / (size + 0.5 * vocabulary))
        score -= 0.001 * position
        if score > best_score:
            best, best_score = category, score
    return (best.title if best else None), kind


def render(style: HouseStyle, *, version: str, previous: str | None, day: date,
           categories: list[tuple[str, list[dict]]], intro: str = "") -> str:
    """The draft in the house style. ``categories`` is (title, items) in order; each item is
    ``{"title", "pr", "url"}`` (``pr`` None for a direct commit: no reference)."""
    heading = style.heading.format(version=version, previous=previous or "", date=format_date(style.date_format, day))
    out: list[str] = []
    if style.markup == "rst":
        rule = (style.heading_rule or "=") * max(len(heading), 3)
        out += ([rule] if style.heading_overline else []) + [heading, rule, ""]
    else:
        out += ["#" * style.heading_level + " " + heading, ""]
    if intro:
        out += [intro, ""]
    for title, items in categories:
        if title:
            title = title.format(version=version) if "{version}" in title else title.replace("{{", "{").replace("}}", "}")
            if style.markup == "rst" and style.category_level != 0:
                out += [title, (style.category_rule or "-") * len(title), ""]
            elif style.category_level == 0:
                out += [f"{title}:", ""]
            else:
                out += ["#" * style.category_level + " " + title, ""]
        for item in items:
            out.append(f"{style.bullet} {item_text(style, item)}")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


_TRAILER = re.compile(r"^(?:[\w-]+-by|Co-authored-by|Signed-off-by|Fixes|Closes|Resolves|Refs?|See)\b.*$", re.I | re.M)


def body_detail(body: str, limit: int = 400) -> str:
    """The first paragraph of prose of a PR body (the description its author wrote), or "": no headings, lists,
    checklists, HTML comments, trailers or bot boilerplate; cut at a sentence end within ``limit``."""
    body = re.sub(r"<!--.*?-->", "", body or "", flags=re.S)
    for paragraph in re.split(r"\n\s*\n", body):
        lines = [line.strip() for line in paragraph.strip().splitlines()]
        if not lines or not lines[0]:
            continue
        if any(line.startswith(("#", "- [", "* [", "|", "```", ">", "<")) or _TRAILER.match(line) for line in lines):
            continue
        if lines[0].startswith(("- ", "* ", "1.")) or len(" ".join(lines)) < 40:
            continue
        text = " ".join(lines)
        if re.search(r"\b(?:dependabot|renovate|pre-commit\.ci|bumps? \S+ from)\b", text, re.I):
            return ""
        if len(text) > limit:
            cut = text[:limit]
            end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
            text = cut[:end + 1] if end > 40 else ""
        return text
    return ""


def item_text(style: HouseStyle, item: dict) -> str:
    text = item["title"].rstrip()
    if style.credit and item.get("author") and not item["author"].lower().endswith("[bot]"):
        text += style.credit.format(login=item["author"])
    reference = ""
    if item.get("pr") is not None and style.ref:
        url = style.ref_url.replace("{n}", str(item["pr"])) if style.ref_url else (item.get("url") or "")
        reference = style.ref.format(n=item["pr"], url=url)
    if style.period_before_ref and not text.endswith((".", "!", "?")):
        text += "."
    text += reference
    if style.period_after_ref and not text.endswith((".", "!", "?")):
        text += "."
    if item.get("detail"):
        text += "\n\n  " + item["detail"]
    return text


RULES = {
    "release": "release chore: the release itself (version bump, changelog update)",
    "internal": "internal change (CI, tests, tooling): earlier notes list none",
    "deps": "dependency update: earlier notes list none",
    "docs": "documentation-only change: earlier notes list none",
}
DIRECT_RULE = "a commit without a pull request: every item of earlier notes links one"
DIRECT_RULE_PRS = "a commit without a pull request: the project lands its changes through pull requests"


def arrange(style: HouseStyle, entries: list[dict]) -> tuple[list[tuple[str, list[dict]]], list[tuple[dict, str]]]:
    """Place ``entries`` (``{"pr", "title", "url", "sha"}`` in merge order; ``title`` as the PR has it) under the
    house's headings, in its item order: (categories in the house's order, (entry, rule) left out)."""
    placed: dict[str, list[dict]] = {}
    left_out: list[tuple[dict, str]] = []
    # a project that lands its changes through pull requests lists those (as GitHub's own notes do)
    by_pr = sum(e.get("pr") is not None for e in entries)
    direct_rule = DIRECT_RULE if style.linked else DIRECT_RULE_PRS if by_pr >= len(entries) - by_pr else None
    for position, entry in enumerate(entries):
        if entry.get("pr") is None and direct_rule:
            left_out.append((entry, direct_rule))
            continue
        title, kind = classify(entry["title"], style)
        if title is None:
            left_out.append((entry, RULES.get(kind, f"{kind}: earlier notes list none")))
            continue
        placed.setdefault(title, []).append({**entry, "position": position, "kind": kind})
    order = [c.title for c in style.categories]
    titles = [t for t in order if t in placed] + [t for t in placed if t not in order]
    result = []
    for title in titles:
        items = placed[title]
        if style.order in ("ascending", "descending"):
            items = sorted(items, key=lambda i: (i.get("pr") is None, i.get("pr") or 0, i["position"]),
                           reverse=style.order == "descending")
        result.append((title, items))
    return result, left_out
