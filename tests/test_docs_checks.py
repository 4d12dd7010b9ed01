"""The offline link check of the built documentation (docs/checks/links.py)
finds broken files and fragments, and nothing else, on a small site."""

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("links", ROOT / "docs/checks/links.py")
links = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(links)


def _site(tmp_path, pages):
    for name, body in pages.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<html><body>{body}</body></html>")
    return tmp_path


def test_a_sound_site_has_no_broken_links(tmp_path):
    site = _site(
        tmp_path,
        {
            "index.html": '<a href="guide/page.html#part">x</a><a href="#top">t</a>'
            '<p id="top"></p><img src="img/a.png"><a href="https://example.org/x">e</a>'
            '<a href="guide/">dir</a><a href="mailto:someone@example.org">m</a>',
            "guide/page.html": '<h2 id="part"></h2><a href="../index.html">home</a>'
            '<a href="/index.html#top">root</a>',
            "guide/index.html": "",
            "img/a.png": "",
        },
    )
    assert links.broken_links(site) == []
    assert links.main(["links.py", str(site)]) == 0


def test_missing_files_and_fragments_are_reported(tmp_path):
    site = _site(
        tmp_path,
        {
            "index.html": '<a href="gone.html">x</a><a href="page.html#nowhere">y</a>'
            '<img src="missing.png"><script src="_static/app.js"></script>'
            '<a href="../outside.html">out</a>',
            "page.html": '<p id="here"></p>',
        },
    )
    (tmp_path.parent / "outside.html").write_text("")
    problems = links.broken_links(site)
    assert len(problems) == 5
    assert all(problem.startswith("index.html: ") for problem in problems)
    assert sum("names no id" in problem for problem in problems) == 1
    assert links.main(["links.py", str(site)]) == 1


def test_theme_templates_under_static_are_not_pages(tmp_path):
    site = _site(
        tmp_path,
        {
            "index.html": "",
            "_static/macros.html": "<link href=\"{{ pathto('x.css', 1) }}\">",
        },
    )
    assert links.broken_links(site) == []


def _github_slug(heading):
    """The anchor GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(markdown):
    return {
        _github_slug(line.lstrip("#"))
        for line in markdown.splitlines()
        if re.match(r"#{1,6} ", line)
    }


def test_the_readme_links_into_the_docs_resolve_in_the_repository():
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)\s]+)\)", readme)
    local = [t for t in targets if not re.match(r"[a-z]+:", t)]
    assert any(t.startswith("docs/") for t in local)
    for target in local:
        path, _, anchor = target.partition("#")
        assert (ROOT / path).exists(), f"README links to {path}, which is missing"
        if anchor:
            assert anchor in _anchors((ROOT / path).read_text()), target
