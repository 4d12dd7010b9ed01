"""Check the internal links of a built HTML site: every local ``href`` and
``src`` names a file of the site, and every ``#fragment`` an id in its page.

Sphinx's ``-b linkcheck`` checks the links to other sites and needs the
network, which CI does not have; this checks the links between the site's own
pages and files, offline. External links (``https:``, ``mailto:``, ...) are
not checked.

Usage: ``python docs/checks/links.py docs/_build/html``; exits 1 and lists
each broken link when there are any.
"""

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

# The attributes that name a resource the page links to or loads.
_LINK_ATTRIBUTES = {"a": "href", "link": "href", "img": "src", "script": "src"}


class _Page(HTMLParser):
    """The ids of one HTML page, and the local links it holds."""

    def __init__(self):
        super().__init__()
        self.ids = set()
        self.links = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("id", "name"):
            if attrs.get(name):
                self.ids.add(attrs[name])
        target = attrs.get(_LINK_ATTRIBUTES.get(tag, ""))
        if target and _is_local(target):
            self.links.append(target)


def _is_local(url):
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc


def _parse(path):
    page = _Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


def _target(page_path, url, root):
    """The file a local link points at, and its fragment."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    if not path:
        return page_path, parts.fragment
    target = (
        (root / path.lstrip("/")) if path.startswith("/") else page_path.parent / path
    )
    if path.endswith("/") or target.is_dir():
        target = target / "index.html"
    return target.resolve(), unquote(parts.fragment)


def _pages(root):
    """The site's pages; ``_static`` holds the theme's Jinja templates, which
    are copied as they are and are not pages."""
    for path in root.rglob("*.html"):
        if "_static" not in path.relative_to(root).parts:
            yield path.resolve()


def broken_links(root):
    """Every broken local link of the site under ``root``, as messages."""
    root = Path(root).resolve()
    pages = {path: _parse(path) for path in _pages(root)}
    problems = []
    for path, page in sorted(pages.items()):
        where = path.relative_to(root)
        for url in page.links:
            target, fragment = _target(path, url, root)
            if not target.is_relative_to(root) or not target.is_file():
                problems.append(f"{where}: {url!r} names no file of the site")
            elif fragment and target in pages and fragment not in pages[target].ids:
                problems.append(f"{where}: {url!r} names no id of its page")
    return problems


def main(argv):
    if len(argv) != 2:
        sys.exit(f"usage: python {argv[0]} BUILT_HTML_DIR")
    root = Path(argv[1])
    if not (root / "index.html").is_file():
        sys.exit(f"{root} has no index.html: build the site first.")
    problems = broken_links(root)
    for problem in problems:
        print(problem)
    n_pages = sum(1 for _ in _pages(root.resolve()))
    print(f"{len(problems)} broken local links in {n_pages} pages under {root}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
