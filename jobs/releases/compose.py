"""The release-notes draft: items placed in categories, the bot's dependency bumps collapsed, contributors, links,
a completeness check, and the text rendered by ``templates/release_notes.md.j2``.

Rules:

* One item per pull request of the range (the first time a number appears), placed by ``categories.decide``;
  a PR the range names but ``pulls`` does not describe is taken from git (its commit's title). Items of a
  category are in PR-number order, direct commits after them in history order.
* Titles are cleaned: a known conventional-commit prefix (``feat(ui):``, ``fix!:``) and a trailing ``(#N)`` go,
  whitespace is squeezed, the first letter is capitalized when the first word is all lower case (``iOS`` stays).
* Links: ``{repo_url}/pull/N`` (unless the forge gave the PR's URL), ``{repo_url}/issues/M`` for closed issues,
  ``{repo_url}/commit/SHA`` for direct commits, ``{repo_url}/compare/PREVIOUS...TAG`` for the full changelog
  (a first release: ``{repo_url}/commits/TAG``). Without ``repo_url`` nothing is linked.
* A dependency bump by the bot — author in ``bot_authors``, or head branch under ``bot_branch_prefix``, or (author
  unknown, as in git-only mode) a title in nightcrew's own shape ``build(deps): bump X from A to B`` — stays one
  item per PR (``ReleaseItem.bumps``) in the ``dependencies_title`` category and renders as ONE line listing
  each package and version with its PR link. Exclusion rules still apply to it first.
* Authors: the forge handle; without one, a handle from a GitHub no-reply address
  (``123+alice@users.noreply.github.com``). Contributors: item authors in range order (handles, else git names),
  then the range's other git authors; bots (``[bot]`` handles, ``bot_authors``) and the authors of the bot's
  bumps are left out. New contributors: the range's first-time git authors, as handles where known.
* Direct commits are categorized like unlabelled PRs (conventional type), with no exclusion rules (the notes
  can only name excluded PRs). Plain merge commits (``Merge branch 'side'``, octopus merges, ``Merge tag``: see
  ``history.is_plain_merge``) are no change of their own: they are left out of the items, named in the hidden
  comment at the end, and the completeness check counts them as excluded by that rule.
* Contributors are named once: a direct commit's author is the handle their PRs (or a no-reply address) give
  the same e-mail, else the git name.
* Every piece of third-party text the template prints (titles, names, package names and versions, tags,
  highlights) goes through :func:`plain_markdown`: it renders as the text it is, never as markup.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jobs.llm.grounding import _CONTROL, _INVISIBLE
from jobs.models import Commit, PullInfo, ReleaseItem, ReleaseNote, ReleaseRange
from jobs.releases.categories import CategoryConfig, author_in, decide, parse_conventional
from jobs.releases import history
from jobs.releases.enrich import closing_issues
from jobs.releases.style import RULES, release_chore
from jobs.render import environment

RELEASE_CHORE_RULE = RULES["release"]
TEMPLATE = "release_notes.md.j2"
PLAIN_MERGE_RULE = "a merge commit of no pull request"
DEFAULT_BOT_AUTHORS = ("nightcrew-bot", "nightcrew[bot]", "dependabot[bot]", "dependabot-preview[bot]", "renovate[bot]",
                       "renovate-bot", "pre-commit-ci[bot]", "pyup-bot", "snyk-bot")
# head branches of the dependency bots (GitHub's merge subjects name them: "from acme/dependabot/pip/x")
DEFAULT_BOT_BRANCHES = ("dependabot/", "renovate/", "pre-commit-ci-update-config", "pyup-", "snyk-upgrade-")
SHORT_SHA = 7

_PR_SUFFIX = re.compile(r"\s*\(#(?P<number>\d+)\)\s*$")
_IDENTITY = re.compile(r"^\s*(?P<name>.*?)\s*<(?P<email>[^<>]*)>\s*$")
_NOREPLY = re.compile(r"^(?:\d+\+)?(?P<login>[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\[bot\])?)"
                      r"@users\.noreply\.github\.com$", re.IGNORECASE)  # fmt: skip
_PREFIX = r"^(?:[A-Za-z]+(?:\([^)]*\))?!?:\s*)?"
_BUMP = re.compile(_PREFIX + r"bump (?P<name>\S+) from (?P<old>\S+) to (?P<new>\S+?)(?: in \S+)?\s*$", re.I)
_GROUP = re.compile(_PREFIX + r"bump the (?P<group>\S+) group(?: across \d+ director(?:y|ies))? "
                    r"with (?P<count>\d+) updates?(?: in \S+)?\s*$", re.I)  # fmt: skip
_RENOVATE = re.compile(_PREFIX + r"update (?:dependency |module |package )?(?P<name>\S+) to (?P<new>v?\d\S*)\s*$",
                       re.I)  # fmt: skip
# Only nightcrew's own title shapes count when nothing says who made the PR.
_NIGHTCREW_BUMP = re.compile(r"^build\(deps\): bump (?:\S+ from \S+ to \S+|the \S+ group with \d+ updates?)$")
_GITMOJI = re.compile(r"^(?::[a-z0-9_+-]+:|[\u2190-\u2bff\U0001f000-\U0001faff][\ufe0f\u200d]?)+\s*")
_BOT_TAG = re.compile(r"^\s*\[[\w.-]+\]\s*")
_TABLE_ROW = re.compile(r"^\s*\|(.+)\|\s*$")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
# plain_markdown: what is kept as it is (a code span, not opened by an escaped backtick; a neutralized mention),
# link and image syntax, bare URLs GitHub would link, and what starts a block at the start of a line.
_KEPT = re.compile(r"(?<![`\\])(?P<code>(`+)(?!`).+?(?<!`)\2(?!`))|(?P<mention>@<!-- -->)")
_IMAGE = re.compile(r"!\[([^\[\]]*)\]\([^()]*\)")
_BARE_URL = re.compile(r"(?i)\b(?:(?:https?|ftp)://|www\.)[^\s`<>]*[^\s`<>.,;:!?'\")\]]")
_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")
_EMPHASIS = re.compile(r"(?<!\\)(?:\*|~|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
_MENTION_IN_TEXT = re.compile(r"(?<![\w`@/])@[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:/[A-Za-z0-9._-]+)?(?![\w`])")
_BRACKET = re.compile(r"(?<!\\)([\[\]])")
_BLOCK_START = re.compile(r"^(?:#{1,6}(?=\s|$)|[-+*](?=\s|$)|(?:[-*_=]\s*){3,}$|`{3,}|~{3,}|>)")
_ORDERED_START = re.compile(r"^(\d{1,9})([.)])(?=\s|$)")


# -- titles ----------------------------------------------------------------------------------------


def clean_title(title: str, number: int | None = None, config: CategoryConfig | None = None) -> str:
    """``feat(ui)!: add dark mode (#12)`` -> ``Add dark mode``: the known conventional prefix and the trailing PR
    reference (``number``'s, or any when None) removed, whitespace squeezed, the first word capitalized when it is
    all lower case. A title that would be left empty is kept as it was."""
    text = " ".join((title or "").split())
    text = _GITMOJI.sub("", text) or text  # "🐛 fix(x): y", ":bug: y": the emoji goes, the rest is read on
    suffix = _PR_SUFFIX.search(text)
    if suffix and (number is None or int(suffix.group("number")) == number):
        text = text[: suffix.start()].rstrip()
    config = config or CategoryConfig()
    parsed = parse_conventional(text, {t for t, _ in config.conventional} | {"deps", "build", "ci", "chore"})
    if parsed:
        if not parsed.description:
            return text
        text = parsed.description
    if re.match(r"[a-z][a-z'-]*(?:[\s,:;.]|$)", text):  # an all-lower-case first word: "iOS", "`x`" stay
        text = text[0].upper() + text[1:]
    return text or " ".join((title or "").split())


# -- third-party text in markdown ----------------------------------------------------------------------


def plain_markdown(text: object) -> str:
    """Third-party text (a PR title, a git author's name, a package name) as markdown that renders as that text
    and nothing else, on one line: ``<``, ``>`` and ``&`` escaped (character references kept); link and image
    syntax reduced to its text, other brackets escaped (no reference links, footnotes or task boxes); bare URLs as
    code, so nothing links away; a heading, quote, list, rule or fence marker at the start escaped; @mentions
    neutralized; invisible and control characters dropped; ``&`` and ``>`` inside the text stay as written. Code spans stay as written (markdown shows them
    verbatim). Applying it twice changes nothing, so text already made plain (the LLM's) stays as it is."""
    text = " ".join(_CONTROL.sub(" ", _INVISIBLE.sub("", "" if text is None else str(text))).split())
    out: list[str] = []
    last = 0
    for kept in _KEPT.finditer(text):
        out.append(_plain_prose(text[last:kept.start()]))
        out.append(kept.group(0))
        last = kept.end()
    out.append(_plain_prose(text[last:]))
    result = " ".join("".join(out).split())  # what stripped syntax left: no doubled or outer spaces
    if _BLOCK_START.match(result):
        return "\\" + result
    return _ORDERED_START.sub(r"\1\\\2", result)


_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?")


def login_markdown(name: object) -> str:
    """A forge login as markdown: as it is when it is one (``dependabot[bot]`` renders as written: a bracket pair
    with nothing after it is no link), else plain text."""
    text = str(name or "")
    return text if _LOGIN.fullmatch(text) else plain_markdown(text)


def _plain_prose(text: str) -> str:
    """``plain_markdown`` of text with no code span in it."""
    for _ in range(8):  # nested link and image syntax, innermost first: [![alt](img)](url) -> alt
        stripped = _MD_LINK.sub(r"\1", _IMAGE.sub(r"\1", text))
        if stripped == text:
            break
        text = stripped
    pieces: list[str] = []
    last = 0
    for url in _BARE_URL.finditer(text):
        pieces.append(_escape(text[last:url.start()]))
        pieces.append(f"`{url.group(0)}`")
        last = url.end()
    pieces.append(_escape(text[last:]))
    return "".join(pieces)


def _escape(text: str) -> str:
    # only what markdown would misread, only where it would: "<" opening a tag, comment or autolink; "&" is left
    # as written ("A & B" stays, an entity the author wrote stays one), ">" matters only at a line start
    text = _TAG_OPEN.sub("&lt;", text)
    # emphasis markers: "*" always, "_" and "~~" where they could open or close emphasis (not "snake_case")
    text = _EMPHASIS.sub(r"\\\g<0>", text)
    # a mention in a title pings nobody: it shows as code ("`@here`"); the notes' own credit lines are "@login"
    return _MENTION_IN_TEXT.sub(r"`\g<0>`", _BRACKET.sub(r"\\\1", text))


# -- the bot's dependency bumps ----------------------------------------------------------------------


def parse_bumps(title: str, body: str = "") -> tuple[tuple[str, str, str], ...]:
    """The (package, from, to) a dependency-bump title names (Dependabot/nightcrew ``bump X from A to B``,
    Renovate ``update dependency X to v2``); for a group (``bump the dev group with 3 updates``) the rows of the
    body's ``| package | from | to |`` table, else the group itself. Empty when it is not a bump."""
    text = _PR_SUFFIX.sub("", " ".join((title or "").split()))
    single = _BUMP.match(text)
    if single:
        return ((single["name"], single["old"], single["new"]),)
    group = _GROUP.match(text)
    if group:
        rows = _table_bumps(body)
        if rows:
            return rows
        count = int(group["count"])
        return ((f"the {group['group']} group ({count} update{'s' if count != 1 else ''})", "", ""),)
    renovate = _RENOVATE.match(text)
    if renovate:
        return ((renovate["name"], "", renovate["new"]),)
    return ()


def _table_bumps(body: str) -> tuple[tuple[str, str, str], ...]:
    """Rows of the first markdown table with package/from/to columns (nightcrew's and Dependabot's PR bodies)."""
    columns: dict[str, int] | None = None
    rows: list[tuple[str, str, str]] = []
    for line in (body or "").splitlines():
        row = _TABLE_ROW.match(line)
        if not row:
            if columns is not None and rows:
                break
            continue
        cells = [_MD_LINK.sub(r"\1", c).strip().strip("`").strip() for c in row.group(1).split("|")]
        if columns is None:
            names = [c.casefold() for c in cells]
            if {"package", "from", "to"} <= set(names):
                columns = {name: names.index(name) for name in ("package", "from", "to")}
            continue
        if all(set(c) <= set("-: ") for c in cells):
            continue  # the header's separator row
        try:
            name, old, new = (cells[columns[k]] for k in ("package", "from", "to"))
        except IndexError:
            continue
        if name:
            rows.append((name, old, new))
    return tuple(rows)


def bot_bumps(title: str, body: str, *, author: str | None, branch: str | None, bot_authors: Iterable[str],
              bot_branch_prefix: str | Iterable[str] | None) -> tuple[tuple[str, str, str], ...]:  # fmt: skip
    """The bumps of a PR when it is the bot's dependency update, else ``()`` (see the module's rules)."""
    bumps = parse_bumps(title, body)
    prefixes = (bot_branch_prefix,) if isinstance(bot_branch_prefix, str) else tuple(bot_branch_prefix or ())
    if author_in(author, bot_authors) or any(_on_bot_branch(branch, prefix) for prefix in prefixes):
        # a known bot's PR whose title names no package ("[pre-commit.ci] pre-commit autoupdate") is one bump too
        return bumps or ((clean_title(_BOT_TAG.sub("", title)), "", ""),)
    if not bumps:
        return ()
    if not author and _NIGHTCREW_BUMP.match(_PR_SUFFIX.sub("", " ".join(title.split()))):
        return bumps
    return ()


def _on_bot_branch(branch: str | None, prefix: str | None) -> bool:
    if not branch or not prefix:
        return False
    # "owner/nightcrew/x-1.2" as a merge subject names it, or "nightcrew/x-1.2"
    return branch.startswith(prefix) or branch.split("/", 1)[-1].startswith(prefix)


# -- composing -----------------------------------------------------------------------------------------


def normalize_repo_url(repo_url: str | None) -> str | None:
    if not repo_url or not repo_url.strip():
        return None
    return repo_url.strip().rstrip("/").removesuffix(".git")


def compare_url(repo_url: str | None, tag: str, previous_tag: str | None) -> str | None:
    """The full-changelog link: ``compare/PREVIOUS...TAG``, or ``commits/TAG`` for a first release."""
    base = normalize_repo_url(repo_url)
    if base is None:
        return None
    if previous_tag:
        return f"{base}/compare/{_ref(previous_tag)}...{_ref(tag)}"
    return f"{base}/commits/{_ref(tag)}"


def compose(range_: ReleaseRange, pulls: Mapping[int, PullInfo], *, config: CategoryConfig | None = None,
            repo_url: str | None, bot_authors: Iterable[str] = DEFAULT_BOT_AUTHORS,
            bot_branch_prefix: str | Iterable[str] | None = ("nightcrew/", *DEFAULT_BOT_BRANCHES),
            neutralize_handles: bool = False,
            branches: Mapping[int, str] | None = None, include_direct_commits: bool = True,
            templates: Path | None = None, credit_bots: bool = False) -> ReleaseNote:  # fmt: skip
    """The draft for ``range_``: ``pulls`` describes its PRs (from the forge, or git-only titles); ``branches``
    optionally gives PR head branches (to recognize the bot's); ``templates`` a folder overriding the packaged
    templates. ``ReleaseNote.text`` is the rendered markdown; check it with ``check_complete``."""
    config = config or CategoryConfig()
    base = normalize_repo_url(repo_url)
    bot_authors = tuple(bot_authors)
    branches = branches or {}
    repository = _repository(base)
    name_of_email = {}
    for identity in range_.contributors:
        name, email = _identity(identity)
        if email:
            name_of_email.setdefault(email.casefold(), name or email)

    placed: list[tuple[ReleaseItem, str]] = []  # item, author e-mail
    excluded: list[tuple[int, str]] = []
    seen: set[int] = set()
    for ref in range_.pulls:
        if ref.number in seen:
            continue
        seen.add(ref.number)
        info = pulls.get(ref.number) or PullInfo(number=ref.number, title=ref.title)
        title = info.title or ref.title
        author = info.author or _noreply_handle(ref.author_email)
        if release_chore(title):  # cutting the release is no change of its own
            excluded.append((ref.number, RELEASE_CHORE_RULE))
            continue
        decision = decide(title, labels=info.labels, author=author, body=info.body, config=config)
        if decision.category is None:
            excluded.append((ref.number, decision.rule))
            continue
        url = info.url or (f"{base}/pull/{ref.number}" if base else None)
        issues = tuple(n for n in dict.fromkeys(info.closes) if n != ref.number)
        bumps = bot_bumps(title, info.body, author=author, branch=branches.get(ref.number),
                          bot_authors=bot_authors, bot_branch_prefix=bot_branch_prefix)  # fmt: skip
        item = ReleaseItem(
            pr=ref.number, title=clean_title(title, ref.number, config),
            category=config.dependencies_title if bumps else decision.category, url=url, issues=issues,
            author=author, breaking=decision.breaking and not bumps, bumps=bumps,
        )
        placed.append((item, ref.author_email))

    commits: list[tuple[ReleaseItem, str]] = []
    for commit in (range_.direct_commits if include_direct_commits else ()):
        if history.is_plain_merge(commit.subject):  # no change of its own; named in the notes' hidden comment
            continue
        commits.append((_commit_item(commit, base, repository, config, bot_authors), commit.author_email))

    order = config.order()
    by_category: dict[str, list[ReleaseItem]] = {}
    for item, _ in sorted(placed, key=lambda pair: pair[0].pr or 0) + commits:
        if item.category not in order:
            order.insert(len(order) - 1, item.category)
        by_category.setdefault(item.category, []).append(item)
    categories = tuple((title, tuple(by_category[title])) for title in order if title in by_category)

    contributors, new_contributors = _contributors(range_, placed + commits, bot_authors, name_of_email)
    bots: tuple[str, ...] = ()
    if credit_bots:  # bots are never contributors; asked for, they are credited apart
        bots = tuple(dict.fromkeys(item.author for item, _ in placed + commits if item.author and (
            item.author.casefold().endswith("[bot]") or author_in(item.author, bot_authors))))
    note = ReleaseNote(
        tag=range_.tag, previous_tag=range_.previous_tag, categories=categories, excluded=tuple(excluded),
        direct_commits=tuple(c.sha for c in range_.direct_commits) if include_direct_commits else (),
        contributors=contributors, new_contributors=new_contributors,
        compare_url=compare_url(base, range_.tag, range_.previous_tag), bots=bots,
    )
    return replace(note, text=render_note(note, repo_url=base, neutralize_handles=neutralize_handles,
                                          templates=templates))  # fmt: skip


def _commit_item(commit: Commit, base: str | None, repository: str, config: CategoryConfig,
                 bot_authors: tuple[str, ...]) -> ReleaseItem:
    handle = _noreply_handle(commit.author_email)
    decision = decide(commit.subject, body=commit.body, config=config)
    is_bot = author_in(handle, bot_authors) or author_in(commit.author_name, bot_authors)
    bumps = parse_bumps(commit.subject, commit.body) if is_bot else ()
    if not bumps and _NIGHTCREW_BUMP.match(" ".join(commit.subject.split())):
        bumps = parse_bumps(commit.subject, commit.body)
    return ReleaseItem(
        pr=None, title=clean_title(commit.subject, None, config),
        category=config.dependencies_title if bumps else (decision.category or config.other_title),
        url=f"{base}/commit/{commit.sha}" if base else None,
        issues=closing_issues(f"{commit.subject}\n\n{commit.body}", repository),
        author=handle, breaking=decision.breaking and not bumps, sha=commit.sha, bumps=bumps,
    )


def _contributors(range_: ReleaseRange, placed: list[tuple[ReleaseItem, str]], bot_authors: tuple[str, ...],
                  name_of_email: Mapping[str, str]) -> tuple[tuple[str, ...], tuple[str, ...]]:  # fmt: skip
    """Contributors (handles, else git names) and the first-time ones among them, bots left out."""
    handle_of_email: dict[str, str] = {}
    accounted: set[str] = set()
    for ref in range_.pulls:
        accounted.add(ref.author_email.casefold())
    for item, email in placed:
        key = email.casefold()
        accounted.add(key)
        if item.author and email and not item.bumps:
            handle_of_email.setdefault(key, item.author)

    def is_bot(who: str | None, email: str = "") -> bool:
        if not who:
            return True
        return who.casefold().endswith("[bot]") or author_in(who, bot_authors) or "[bot]@" in email.casefold()

    bot_emails = {email.casefold() for item, email in placed if item.bumps}
    ordered: list[str] = []
    for item, email in placed:  # PRs in range order, then direct commits
        if item.bumps:
            continue
        # a direct commit (or a git-only PR) by someone whose PRs give a handle is that handle, not a second name
        key = email.casefold()
        who = item.author or handle_of_email.get(key) or name_of_email.get(key) or None
        if who and not is_bot(who, email) and who not in ordered:
            ordered.append(who)
    for identity in range_.contributors:
        name, email = _identity(identity)
        key = email.casefold()
        if key in accounted or key in bot_emails:
            continue
        who = handle_of_email.get(key) or _noreply_handle(email) or name
        if who and not is_bot(who, email) and who not in ordered:
            ordered.append(who)

    new: list[str] = []
    for identity in range_.new_contributors:
        name, email = _identity(identity)
        key = email.casefold()
        who = handle_of_email.get(key) or _noreply_handle(email) or name_of_email.get(key) or name
        if who in ordered and who not in new:
            new.append(who)
    return tuple(ordered), tuple(new)


# -- rendering -----------------------------------------------------------------------------------------


def render_note(note: ReleaseNote, *, repo_url: str | None = None, neutralize_handles: bool = False,
                highlights: Mapping[str, Any] | None = None, templates: Path | None = None) -> str:  # fmt: skip
    """The markdown of ``note`` through ``templates/release_notes.md.j2``. ``repo_url`` defaults to what the
    note's links show; ``highlights`` is ``{"sentences": [{"text", "cites": [numbers]}], "model"}`` (synthesis)."""
    base = normalize_repo_url(repo_url) or repo_url_of(note)
    context = render_context(note, repo_url=base, neutralize_handles=neutralize_handles, highlights=highlights)
    env = environment(templates)
    env.filters["plain"] = plain_markdown
    env.filters["login"] = login_markdown
    return env.get_template(TEMPLATE).render(**context)


def render_context(note: ReleaseNote, *, repo_url: str | None, neutralize_handles: bool = False,
                   highlights: Mapping[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """The template's data (documented at the top of ``release_notes.md.j2``)."""
    base = normalize_repo_url(repo_url)
    handles = {item.author for _, items in note.categories for item in items if item.author}
    listed = {item.sha for _, items in note.categories for item in items if item.sha}

    def link(kind: str, number: int) -> str | None:
        return f"{base}/{kind}/{number}" if base else None

    categories = []
    first_pr: dict[str, int] = {}
    for title, items in note.categories:
        plain, bumps = [], []
        for item in items:
            if item.author and item.pr is not None and not item.bumps:
                first_pr[item.author] = min(first_pr.get(item.author, item.pr), item.pr)
            if item.bumps:
                bumps.append({
                    "pr": item.pr, "url": item.url or (link("pull", item.pr) if item.pr else None),
                    "sha": item.sha, "short_sha": item.sha[:SHORT_SHA] if item.sha else None,
                    "packages": [{"name": n, "old": o, "new": v} for n, o, v in item.bumps],
                })  # fmt: skip
                continue
            plain.append({
                "pr": item.pr, "title": item.title, "url": item.url, "author": item.author,
                "issues": [{"number": n, "url": link("issues", n)} for n in item.issues],
                "breaking": item.breaking, "sha": item.sha,
                "short_sha": item.sha[:SHORT_SHA] if item.sha else None,
            })  # fmt: skip
        categories.append({"title": title, "breaking": any(i.breaking for i in items), "items": plain,
                           "bumps": bumps})  # fmt: skip

    sentences = []
    for sentence in (highlights or {}).get("sentences", ()):
        sentences.append({"text": sentence["text"],
                          "cites": [{"number": n, "url": _cite_url(note, base, n)} for n in sentence["cites"]]})
    return {
        "tag": note.tag,
        "previous_tag": note.previous_tag,
        "repo_url": base,
        "compare_url": note.compare_url,
        "tag_url": f"{base}/tree/{_ref(note.tag)}" if base else None,
        "categories": categories,
        "contributors": [{"name": c, "handle": c in handles} for c in note.contributors],
        "bots": [{"name": b, "handle": True} for b in note.bots],
        "new_contributors": [{"name": c, "handle": c in handles, "pr": first_pr.get(c),
                              "url": link("pull", first_pr[c]) if c in first_pr else None}
                             for c in note.new_contributors],  # fmt: skip
        "excluded": [{"pr": n, "rule": _comment_safe(rule), "url": link("pull", n)} for n, rule in note.excluded],
        "excluded_commits": [{"sha": sha, "short_sha": sha[:SHORT_SHA], "rule": PLAIN_MERGE_RULE}
                             for sha in note.direct_commits if sha not in listed],  # fmt: skip
        "direct_commits": len(note.direct_commits),
        "highlights": {"sentences": sentences, "model": (highlights or {}).get("model")} if sentences else None,
        "neutralize_handles": neutralize_handles,
    }


def repo_url_of(note: ReleaseNote) -> str | None:
    """The repository's web address as the note's own links show it (compare link, else a PR link)."""
    if note.compare_url:
        found = re.match(r"^(?P<base>.+?)/(?:compare|commits|tree)/", note.compare_url)
        if found:
            return found["base"]
    for _, items in note.categories:
        for item in items:
            found = re.match(r"^(?P<base>.+)/(?:pull|commit)/[^/]+$", item.url or "")
            if found:
                return found["base"]
    return None


# -- completeness ----------------------------------------------------------------------------------


def check_complete(range_: ReleaseRange, note: ReleaseNote) -> list[str]:
    """Problems with ``note`` against ``range_``: every PR of the range must be listed exactly once or be excluded
    by a named rule, nothing else may be listed, every direct commit listed belongs to the range; and when the
    note covers direct commits (``note.direct_commits``), each of the range's is listed once or is a plain merge
    commit (excluded by that rule). Empty: complete."""
    problems: list[str] = []
    wanted = list(dict.fromkeys(ref.number for ref in range_.pulls))
    listed: dict[int, int] = {}
    for _, items in note.categories:
        for item in items:
            if item.pr is not None:
                listed[item.pr] = listed.get(item.pr, 0) + 1
    left_out: dict[int, list[str]] = {}
    for number, rule in note.excluded:
        left_out.setdefault(number, []).append(rule)
    for number in wanted:
        times, rules = listed.get(number, 0), left_out.get(number, [])
        if times and rules:
            problems.append(f"#{number} is listed and also excluded ({rules[0]})")
        elif times > 1:
            problems.append(f"#{number} is listed {times} times")
        elif len(rules) > 1:
            problems.append(f"#{number} is excluded {len(rules)} times")
        elif rules and not rules[0].strip():
            problems.append(f"#{number} is excluded without a named rule")
        elif not times and not rules:
            problems.append(f"#{number} is missing: neither listed nor excluded")
    known = set(wanted)
    for number in sorted((set(listed) | set(left_out)) - known):
        problems.append(f"#{number} is not in the range {range_.previous_tag or '(start)'}..{range_.tag}")
    shas = {c.sha for c in range_.direct_commits}
    listed_shas = Counter(item.sha for _, items in note.categories for item in items if item.sha)
    for sha, times in listed_shas.items():
        if sha not in shas:
            problems.append(f"commit {sha[:SHORT_SHA]} is not a direct commit of the range")
        elif times > 1:
            problems.append(f"commit {sha[:SHORT_SHA]} is listed {times} times")
    if note.direct_commits:  # without them (include_direct_commits off) the note says nothing of direct commits
        covered = set(note.direct_commits)
        for commit in range_.direct_commits:
            if commit.sha not in covered:
                problems.append(f"commit {commit.sha[:SHORT_SHA]} is missing from the note's direct commits")
            elif (commit.sha not in listed_shas and not history.is_plain_merge(commit.subject)
                  and not any(sha == commit.sha and rule.strip() for sha, rule in note.excluded_commits)):
                problems.append(f"commit {commit.sha[:SHORT_SHA]} is missing: neither listed nor a plain merge")
    return problems


# -- helpers ---------------------------------------------------------------------------------------


def _identity(text: str) -> tuple[str, str]:
    found = _IDENTITY.match(text or "")
    return (found["name"], found["email"]) if found else ((text or "").strip(), "")


def _noreply_handle(email: str | None) -> str | None:
    found = _NOREPLY.match((email or "").strip())
    return found["login"] if found else None


def _repository(base: str | None) -> str:
    """``owner/name`` of a web address (for closing keywords naming the repository); "" when unknown."""
    if not base:
        return ""
    parts = base.split("://", 1)[-1].split("/")
    return "/".join(parts[-2:]) if len(parts) >= 3 else ""


def _ref(name: str) -> str:
    return quote(name, safe="/@+-._~")


def _comment_safe(text: str) -> str:
    # Rule names carry label text; inside an HTML comment "--" must not end it early.
    return " ".join(text.replace("--", "- -").replace(">", "&gt;").split())


def _cite_url(note: ReleaseNote, base: str | None, number: int) -> str | None:
    for _, items in note.categories:
        for item in items:
            if item.pr == number:
                return item.url or (f"{base}/pull/{number}" if base else None)
    return f"{base}/issues/{number}" if base else None  # GitHub redirects an issue URL to a PR and back
