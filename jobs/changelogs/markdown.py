"""Make upstream changelog text safe to put in our PR body: links point upstream, nobody is pinged, nothing runs."""

from __future__ import annotations

import re

from jobs.render import neutralize_mentions

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_DANGEROUS_BLOCK = re.compile(r"<(script|style|iframe|object|embed|form)\b.*?</\1\s*>", re.S | re.I)
_DANGEROUS_TAG = re.compile(r"</?(script|style|iframe|object|embed|form|link|meta|base)\b[^>]*>", re.I)
_IMG_TAG = re.compile(r"<img\b[^>]*>", re.I)
_ALT = re.compile(r"\balt\s*=\s*[\"']([^\"']*)[\"']", re.I)
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\(\s*<?(https?://[^)\s>]+)>?[^)]*\)")
# `#123`, `GH-123`, `gh-123` not inside a word, a URL or a link's text target
_REF = re.compile(r"(?<![\w/&#\[])(?:(#)|\b(GH-))(\d{1,7})\b", re.I)
_GITHUB_REPO = re.compile(r"^https?://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?$", re.I)


def github_repo_url(url: str | None) -> str | None:
    """``https://github.com/owner/name`` for a URL that points at a GitHub repository's root, else None."""
    if not url:
        return None
    found = _GITHUB_REPO.match(url.strip().split("#")[0].split("?")[0])
    return f"https://github.com/{found.group(1)}/{found.group(2)}" if found else None


def _outside_code(line: str, transform) -> str:  # type: ignore[no-untyped-def]
    """Apply ``transform`` to the parts of one line that are not inline code."""
    out, last = [], 0
    for match in _CODE_SPAN.finditer(line):
        out.append(transform(line[last:match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(transform(line[last:]))
    return "".join(out)


def _link_refs(text: str, upstream: str | None) -> str:
    def replace(match: re.Match[str]) -> str:
        number = match.group(3)
        label = match.group(0)
        if upstream:
            return f"[{label}]({upstream}/issues/{number})"
        # unknown upstream: keep the text, but stop the forge from linking it to *our* issue #N
        return label.replace("#", "#&#8203;") if match.group(1) else label

    return _REF.sub(replace, text)


def sanitize(text: str, *, upstream: str | None = None, rst: bool = False) -> str:
    """Upstream changelog text, ready for a PR body.

    Markdown keeps its markup; reStructuredText (which a forge would not render) goes into a fenced block,
    where nothing links or pings. HTML comments, scripts, styles, frames and remote images are removed.
    """
    text = _HTML_COMMENT.sub("", text)
    text = _DANGEROUS_BLOCK.sub("", text)
    text = _DANGEROUS_TAG.sub("", text)
    text = _IMG_TAG.sub(lambda m: f"[image: {alt.group(1)}]" if (alt := _ALT.search(m.group(0))) else "", text)
    text = _MD_IMAGE.sub(lambda m: f"[image: {m.group(1) or 'image'}]({m.group(2)})", text)
    if rst:
        longest = max((len(m.group(0)) for m in re.finditer(r"`+", text)), default=0)
        fence = "`" * max(3, longest + 1)
        return f"{fence}rst\n{text.rstrip()}\n{fence}"
    lines, fenced = [], False
    for line in text.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
            lines.append(line)
            continue
        if fenced:
            lines.append(line)
            continue
        lines.append(_outside_code(line, lambda part: neutralize_mentions(_link_refs(part, upstream))))
    return "\n".join(lines)
