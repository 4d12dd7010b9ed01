"""Check the built site in a real headless browser (Chromium, through Selenium).

The site is served over HTTP from the build folder, as a web server would
serve it, and Chromium checks that:

- every page (the home page, the guide, the API reference, the gallery)
  loads without errors in its console: a missing script, image or style
  sheet, a script error, or anything fetched from another site (CI is
  offline);
- the search page finds ``corruption_level``;
- every image of the gallery (its thumbnails and each example's figures) is
  served and decodes.

Needs ``pip install selenium`` and a Chromium with its driver (Debian:
``apt-get install chromium chromium-driver``); CI installs both
(``.ci/docs``). Usage: ``python docs/checks/browser.py docs/_build/html``.
"""

import functools
import shutil
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

SEARCH_TERM = "corruption_level"
TIMEOUT = 30  # seconds a page, or the search, may take


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # one line a request is noise here
        pass


def _serve(root):
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def _browser():
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary:
        options.binary_location = binary
    driver = shutil.which("chromedriver")
    service = Service(executable_path=driver) if driver else Service()
    return webdriver.Chrome(options=options, service=service)


def _load(browser, url):
    browser.get(url)
    WebDriverWait(browser, TIMEOUT).until(
        lambda b: b.execute_script("return document.readyState") == "complete"
    )


def _console_errors(browser, url):
    _load(browser, url)
    return [
        f"{url}: console {entry['level']}: {entry['message']}"
        for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE"
    ]


def _served(browser, image):
    """Whether an image arrived and decoded; scrolled into view first, so
    that a lazily loaded one is asked for."""
    browser.execute_script("arguments[0].scrollIntoView()", image)
    try:
        WebDriverWait(browser, TIMEOUT).until(
            lambda b: b.execute_script("return arguments[0].complete", image)
        )
    except TimeoutException:
        return False
    return browser.execute_script("return arguments[0].naturalWidth > 0", image)


def _broken_images(browser, url):
    _load(browser, url)
    images = browser.find_elements(By.CSS_SELECTOR, "img")
    return [
        f"{url}: image {image.get_attribute('src')} was not served"
        for image in images
        if not _served(browser, image)
    ], len(images)


def _search_finds(browser, base, term):
    _load(browser, f"{base}search.html?q={term}")
    results = "#search-results ul.search li"
    try:
        WebDriverWait(browser, TIMEOUT).until(
            lambda b: b.find_elements(By.CSS_SELECTOR, results)
        )
    except TimeoutException:
        return []
    return [
        li.text.splitlines()[0]
        for li in browser.find_elements(By.CSS_SELECTOR, results)
    ]


def check(root):
    """Every problem the browser finds on the site under ``root``."""
    root = Path(root).resolve()
    gallery = sorted(
        f"auto_examples/{path.name}"
        for path in (root / "auto_examples").glob("plot_*.html")
    )
    pages = sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*.html")
        if "_static" not in path.relative_to(root).parts
    )
    if not gallery:
        return [f"{root / 'auto_examples'} has no example pages"]
    server, base = _serve(root)
    browser = _browser()
    problems = []
    try:
        for page in pages:
            problems += _console_errors(browser, base + page)
        n_images = 0
        for page in ["auto_examples/index.html", *gallery]:
            broken, count = _broken_images(browser, base + page)
            problems += broken
            n_images += count
        found = _search_finds(browser, base, SEARCH_TERM)
        if not found:
            problems.append(f"the search for {SEARCH_TERM!r} found nothing")
    finally:
        browser.quit()
        server.shutdown()
    print(
        f"{len(pages)} pages loaded, {n_images} gallery images checked, "
        f"the search for {SEARCH_TERM!r} found {len(found)} pages: "
        + ", ".join(found[:5])
    )
    return problems


def main(argv):
    if len(argv) != 2:
        sys.exit(f"usage: python {argv[0]} BUILT_HTML_DIR")
    problems = check(argv[1])
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
