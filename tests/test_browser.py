"""The search page in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

Runs against ``searchsvc serve`` on loopback over the sample index. Requests to
any other host (the hits' original sites) are answered by a stub, so nothing
leaves the machine. Screenshots of the main states go to build/screenshots/.
Without Chromium the tests skip, naming the install command; with
REQUIRE_BROWSER=1 (set by .ci/run) they fail instead.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import HANG_GUARD, REPO, LiveServer

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = REPO / "build" / "screenshots"
OUTSIDE_PAGE = "<!doctype html><title>outside</title><p>an outside site</p>"
WIDE = {"width": 1280, "height": 900}

# A structural outline of what the page shows: tags, attributes, trimmed text. Links are
# compared by decoded path and sorted parameters, timings are masked.
OUTLINE_JS = """() => {
  const out = [];
  const norm = (href) => {
    const u = new URL(href, location.href);
    if (u.origin !== location.origin) return u.href;
    const ps = [...u.searchParams.entries()].map(([k, v]) => k + '=' + v).sort();
    return decodeURIComponent(u.pathname) + '?' + ps.join('&');
  };
  const walk = (node, depth) => {
    for (const child of node.childNodes) {
      if (child.nodeType === 3) {
        const t = child.textContent.replace(/\\s+/g, ' ').trim();
        if (t) out.push(' '.repeat(depth) + '"' + t.replace(/in \\d+ ms/, 'in N ms') + '"');
      } else if (child.nodeType === 1) {
        const attrs = [...child.attributes].filter(a => a.name !== 'aria-busy').map(a =>
          a.name + '=' + (a.name === 'href' ? norm(a.value) : a.value)).sort();
        out.push(' '.repeat(depth) + child.tagName.toLowerCase() + ' ' + attrs.join(' '));
        walk(child, depth + 1);
      }
    }
  };
  for (const id of ['summary', 'sorts', 'results']) {
    const el = document.getElementById(id);
    el.normalize();
    out.push('#' + id);
    walk(el, 1);
  }
  return out;
}"""


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium (the browser tests drive Debian's Chromium)"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Tab:
    """One browser page on the live server, with the console errors it logged."""

    def __init__(self, browser, base_url: str, **context_options):
        self.base = base_url
        self.context = browser.new_context(base_url=base_url, **{"viewport": WIDE, **context_options})
        self.context.set_default_timeout(HANG_GUARD * 1000)  # waits end on what they wait for; this is a hang guard
        self.context.route(lambda url: not url.startswith(base_url + "/"),
                           lambda route: route.fulfill(status=200, content_type="text/html", body=OUTSIDE_PAGE))
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def goto(self, path: str):
        response = self.page.goto(self.base + path)
        assert response.status < 400, (path, response.status)
        return self

    def mark_document(self):
        """Tag the current document; ``same_document()`` then tells whether a page load happened."""
        self.page.evaluate("() => { window.__sameDocument = true; }")

    def same_document(self) -> bool:
        return self.page.evaluate("() => window.__sameDocument === true")

    def settled(self):
        self.page.wait_for_function("() => !document.getElementById('results').hasAttribute('aria-busy')")

    def wait_for_query(self, q: str):
        """Until the page shows the answer to ``q`` (the address follows the answer shown)."""
        self.page.wait_for_function(
            """q => new URLSearchParams(location.search).get('q') === q && document.querySelector('#summary .took')
                   && !document.getElementById('results').hasAttribute('aria-busy')""",
            arg=q)

    def params(self) -> dict:
        return parse_qs(urlsplit(self.page.url).query, keep_blank_values=True)

    def hit_titles(self) -> list[str]:
        return self.page.locator(".hit .hit-title a").all_inner_texts()

    def shot(self, name: str, full_page: bool = True):
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)

    def outline(self) -> list[str]:
        return self.page.evaluate(OUTLINE_JS)


@pytest.fixture()
def tab(browser, live_server):
    t = Tab(browser, live_server.url)
    yield t
    t.context.close()
    assert t.errors == [], t.errors


def type_query(tab: Tab, q: str):
    box = tab.page.locator("#q")
    box.fill("")
    box.press_sequentially(q, delay=25)
    tab.wait_for_query(q)


# --- search as you type ------------------------------------------------------------

def test_typing_shows_highlighted_results_without_a_page_load(tab, live_server):
    tab.goto("/")
    tab.shot("home")
    tab.mark_document()
    type_query(tab, "strike")
    assert tab.same_document()
    assert tab.params() == {"q": ["strike"]}
    _, api = live_server.json("/api/search?q=strike")
    assert tab.hit_titles() == [h["title"] for h in api["hits"]]
    marks = tab.page.locator(".hit .snippet mark").all_inner_texts()
    assert marks and all(m.lower().startswith("strik") for m in marks)
    n = api["total"]
    assert tab.page.locator("#summary").inner_text().startswith(f"1–{n} of {n} articles for")
    assert tab.page.title().startswith("strike")
    tab.shot("results")


@pytest.mark.parametrize("start, action", [
    ("/search?q=strike", "type:strike"),
    ("/search?q=", "type:"),
    ("/search?q=zzyzxqwv", "type:zzyzxqwv"),
    ("/search?q=ferri+strik", "type:ferri strik"),
    ("/search?q=dockwrkers", "type:dockwrkers"),
    ("/search?q=school+drivers+pay", "type:school drivers pay"),                       # where every word ends
    ("/search?q=%22no+automation+without+consent%22", 'type:"no automation without consent"'),  # relaxed
    ("/search?q=port&source=The+Harbor+Gazette", "facet:/search?q=port"),
    ("/search?q=&page=2&sort=date", "next:/search?q=&sort=date"),
    ("/search?q=&from=2023&to=2024-06", "pop:/search?q=&from=2023&to=2024-06"),
])
def test_script_renders_the_same_markup_as_the_server(tab, start, action):
    server = tab.goto(start).outline()
    how, _, arg = action.partition(":")
    if how == "type":
        tab.goto("/")
        box = tab.page.locator("#q")
        box.press_sequentially(arg or "x", delay=10)
        if not arg:
            box.press("Backspace")
            tab.page.wait_for_function("() => location.search === '?q='")
            tab.settled()
        else:
            tab.wait_for_query(arg)
    elif how == "pop":                      # as if Back led to this address
        tab.goto("/search?q=")
        tab.page.evaluate("u => { history.pushState(null, '', u); dispatchEvent(new PopStateEvent('popstate')); }", arg)
        tab.settled()
    else:
        tab.goto(arg)
        tab.mark_document()
        if how == "facet":
            tab.page.locator("[data-facet=source] a", has_text="The Harbor Gazette").click()
        else:
            tab.page.locator(".pager a[rel=next]").click()
        tab.page.wait_for_function("u => location.pathname + location.search !== u", arg=arg)
        tab.settled()
        assert tab.same_document()
    assert tab.outline() == server


def test_stale_answers_are_dropped(tab):
    # Hold back the answer for "ferry" in the page itself until the test lets it go, after the newer one:
    # every step waits for the event it needs (the request out, the answer read), never for a time.
    tab.page.add_init_script("""(() => {
      const real = window.fetch;
      let release;
      const released = new Promise(ok => { release = ok; });
      window.__releaseFerry = () => release();
      window.fetch = (url, opts) => {
        if (!String(url).includes('q=ferry')) return real(url, opts);
        window.__ferryAsked = true;
        return real(url, opts).then(r => released.then(() => {
          const json = r.json.bind(r);
          r.json = () => {
            window.__ferryJsonCalled = true;
            const read = () => setTimeout(() => { window.__ferryRead = true; });
            return json().then(data => { read(); return data; }, err => { read(); throw err; });
          };
          window.__ferryDelivered = true;
          return r;
        }), err => released.then(() => { window.__ferryDelivered = true; throw err; }));  // aborted meanwhile
      };
    })()""")
    tab.goto("/")
    box = tab.page.locator("#q")
    box.press_sequentially("ferry", delay=10)
    tab.page.wait_for_function("() => window.__ferryAsked === true")  # its request is out, its answer held
    box.fill("")
    box.press_sequentially("strike", delay=10)
    tab.wait_for_query("strike")
    tab.page.evaluate("() => window.__releaseFerry()")
    tab.page.wait_for_function("() => window.__ferryDelivered === true")
    # the page has had the stale answer (dropped it unread, or read it) and a frame to show it
    tab.page.evaluate("() => new Promise(ok => setTimeout(ok, 0))")
    tab.page.wait_for_function("() => !window.__ferryJsonCalled || window.__ferryRead === true")
    tab.page.evaluate("() => new Promise(ok => setTimeout(() => requestAnimationFrame(() => ok()), 0))")
    tab.settled()
    assert tab.page.locator("#summary q").inner_text() == "strike"
    assert tab.params() == {"q": ["strike"]}
    assert all("strik" in m.lower() for m in tab.page.locator(".snippet mark").all_inner_texts())


# --- links that search: did-you-mean, facets, pages, history -------------------------------

def test_did_you_mean_link(tab):
    tab.goto("/")
    tab.mark_document()
    type_query(tab, "ferri strik")
    link = tab.page.locator("p.suggestion a")
    corrected = link.inner_text()
    assert corrected and corrected != "ferri strik"
    link.click()
    tab.wait_for_query(corrected)
    assert tab.same_document()
    assert tab.page.locator("#q").input_value() == corrected
    assert tab.params()["q"] == [corrected]
    assert tab.page.locator(".hit").count() > 0


def test_facet_applies_combines_and_is_removed_with_history(tab):
    tab.goto("/search?q=")
    tab.mark_document()
    everything = tab.page.locator("#summary strong.total").inner_text()
    first = tab.page.locator("[data-facet=source] a").first
    name = first.locator(".value").inner_text()
    count = first.locator(".count").inner_text()
    first.click()
    tab.page.wait_for_function("n => new URLSearchParams(location.search).get('source') === n", arg=name)
    tab.settled()
    assert tab.page.locator("#summary strong.total").inner_text() == count
    assert set(tab.page.locator(".hit .meta .source").all_inner_texts()) == {name}
    assert tab.page.locator(".chips .chip").inner_text().startswith(f"Source: {name}")
    # the facet keeps focus so the keyboard can go on from there
    assert tab.page.evaluate("document.activeElement.dataset.key") == f"source:{name}"
    year = tab.page.locator("[data-facet=year] a").first
    year_value = year.locator(".value").inner_text()
    year.click()
    tab.page.wait_for_function("() => new URLSearchParams(location.search).has('from')")
    tab.settled()
    assert tab.page.locator(".chips .chip").count() == 2
    assert all(d.startswith(year_value) for d in
               tab.page.locator(".hit time").evaluate_all("els => els.map(e => e.getAttribute('datetime'))"))
    tab.shot("facets")
    tab.page.locator(".chips .chip", has_text="Source:").click()
    tab.page.wait_for_function("() => !new URLSearchParams(location.search).has('source')")
    tab.settled()
    assert tab.page.locator(".chips .chip").count() == 1
    tab.page.go_back()
    tab.page.wait_for_function("() => new URLSearchParams(location.search).has('source')")
    tab.settled()
    assert tab.page.locator(".chips .chip").count() == 2
    tab.page.go_back()
    tab.page.go_back()
    tab.page.wait_for_function("() => location.search === '?q='")
    tab.settled()
    assert tab.page.locator("#summary strong.total").inner_text() == everything
    assert tab.page.locator(".chips").count() == 0
    assert tab.same_document()


def test_paging_forward_and_back(tab):
    tab.goto("/search?q=")
    tab.mark_document()
    page_one = tab.hit_titles()
    tab.page.locator(".pager a[rel=next]").click()
    tab.page.wait_for_function("() => new URLSearchParams(location.search).get('page') === '2'")
    tab.settled()
    page_two = tab.hit_titles()
    assert page_two and not set(page_one) & set(page_two)
    assert tab.page.locator("ol.hits").get_attribute("start") == "11"
    assert tab.page.locator(".pager a[aria-current=page]").text_content() == "Page 2"
    tab.page.go_back()
    tab.page.wait_for_function("() => !new URLSearchParams(location.search).has('page')")
    tab.settled()
    assert tab.hit_titles() == page_one
    tab.page.go_forward()
    tab.page.wait_for_function("() => new URLSearchParams(location.search).get('page') === '2'")
    tab.settled()
    assert tab.hit_titles() == page_two
    assert tab.same_document()
    tab.page.reload()                        # the URL alone rebuilds the same page
    assert tab.hit_titles() == page_two


def test_back_to_the_home_page_restores_it(tab):
    tab.goto("/")
    type_query(tab, "flood")
    tab.page.go_back()
    tab.page.wait_for_function("() => location.pathname === '/' && !document.querySelector('.hit')")
    assert tab.page.locator(".intro").is_visible()
    assert tab.page.locator("#q").input_value() == ""


# --- keyboard, small screens, colour schemes, no JavaScript --------------------------------

def test_keyboard_only(tab):
    tab.goto("/search?q=")
    page = tab.page
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.press("Control+A")
    page.keyboard.type("strike", delay=25)
    tab.wait_for_query("strike")
    titles = tab.hit_titles()
    focused = "document.activeElement.closest('.hit') ? document.activeElement.textContent : document.activeElement.id"
    page.keyboard.press("ArrowDown")
    assert page.evaluate(focused) == titles[0]
    page.keyboard.press("ArrowDown")
    assert page.evaluate(focused) == titles[1]
    # the focused hit is visibly marked
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("ArrowUp")
    assert page.evaluate(focused) == titles[0]
    page.keyboard.press("ArrowUp")
    assert page.evaluate(focused) == "q"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    tab.shot("keyboard")
    href = page.evaluate("document.activeElement.href")
    page.keyboard.press("Enter")
    page.wait_for_url(href)
    assert page.url == href


def test_keyboard_reaches_filters_and_sort(tab):
    tab.goto("/search?q=ferry")
    page = tab.page
    page.locator("nav.sorts a", has_text="Newest").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => new URLSearchParams(location.search).get('sort') === 'date'")
    tab.settled()
    assert page.evaluate("document.activeElement.getAttribute('aria-current')") == "true"
    dates = page.locator(".hit time").evaluate_all("els => els.map(e => e.getAttribute('datetime'))")
    assert dates == sorted(dates, reverse=True)
    page.locator("#date-from").focus()
    page.keyboard.type("01012024")
    page.locator("#date-to").focus()
    page.keyboard.type("12312024")
    page.keyboard.press("Enter")
    page.wait_for_function("() => new URLSearchParams(location.search).get('to') === '2024-12-31'")
    tab.settled()
    assert tab.params()["from"] == ["2024-01-01"] and tab.params()["sort"] == ["date"]
    assert all(d.startswith("2024") for d in
               page.locator(".hit time").evaluate_all("els => els.map(e => e.getAttribute('datetime'))"))


@pytest.mark.parametrize("path", ["/", "/search?q=strike", "/search?q=&source=The+Harbor+Gazette&from=2024-01-01",
                                  "/search?q=zzyzxqwv", "/article/harbor-gazette/2024-03-14-port-strike.html?q=strike"])
def test_320px_wide_has_no_horizontal_scroll(browser, live_server, path):
    tab = Tab(browser, live_server.url, viewport={"width": 320, "height": 640})
    try:
        tab.goto(path)
        assert tab.page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        if path.startswith("/search?q=strike"):
            tab.shot("mobile-320")
        assert tab.errors == []
    finally:
        tab.context.close()


def _luminance(rgb: tuple[float, ...]) -> float:
    def channel(c):
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(fg, bg) -> float:
    hi, lo = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


COLOURS_JS = """sel => [...document.querySelectorAll(sel)].slice(0, 3).map(el => {
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  let bg = el, c;
  while (bg && (c = rgb(getComputedStyle(bg).backgroundColor)).length === 4 && c[3] === 0) bg = bg.parentElement;
  return [rgb(getComputedStyle(el).color), bg ? rgb(getComputedStyle(bg).backgroundColor) : [255, 255, 255]];
})"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_contrast_meets_wcag_aa_in_both_schemes(browser, live_server, scheme):
    tab = Tab(browser, live_server.url, color_scheme=scheme)
    try:
        tab.goto("/search?q=strike&source=The+Harbor+Gazette")
        tab.shot(f"results-{scheme}")
        selectors = [".hit-title a", ".meta time", ".meta .source", ".snippet", ".snippet mark", "#summary",
                     ".took", "nav.sorts a", "nav.sorts a[aria-current]", ".facet a", ".facet a.selected",
                     ".count", ".filters h2", ".chip", ".hit-more a", "button", ".colophon", "#q"]
        for sel in selectors:
            pairs = tab.page.evaluate(COLOURS_JS, sel)
            assert pairs, sel
            for fg, bg in pairs:
                assert _contrast(fg, bg) >= 4.5, (scheme, sel, fg, bg)
        tab.goto('/search?q=%22no+automation+without+consent%22+pledge')
        pairs = tab.page.evaluate(COLOURS_JS, ".note")
        assert len(pairs) == 2  # relaxed, and where every word ends
        for fg, bg in pairs:
            assert _contrast(fg, bg) >= 4.5, (scheme, ".note", fg, bg)
    finally:
        tab.context.close()


def test_page_works_without_javascript(browser, live_server):
    tab = Tab(browser, live_server.url, java_script_enabled=False)
    try:
        tab.goto("/")
        tab.page.locator("#q").fill("strike")
        tab.page.locator("#q").press("Enter")
        tab.page.wait_for_url(re.compile(r"/search\?q=strike$"))
        assert tab.page.locator(".hit").count() > 0 and tab.page.locator(".snippet mark").count() > 0
        tab.page.locator("[data-facet=source] a").first.click()
        tab.page.wait_for_url(re.compile(r"source="))
        assert tab.page.locator(".chips .chip").count() == 1
        tab.page.locator("#date-from").fill("2024-01-01")
        tab.page.locator(".daterange button").click()
        tab.page.wait_for_url(re.compile(r"from=2024-01-01"))
        assert "source" in tab.params()
        tab.shot("no-javascript")
        tab.page.locator(".hit a.cached").first.click()
        tab.page.wait_for_url(re.compile(r"/article/.+\?q=strike"))
        assert tab.page.locator(".body mark").count() > 0
        tab.shot("article")
        assert tab.errors == []
    finally:
        tab.context.close()


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    from test_web import HOSTILE_DOCS, write_hostile_index
    index = write_hostile_index(tmp_path_factory.mktemp("hostile-browser"))
    server = LiveServer(index)
    yield server, HOSTILE_DOCS
    server.stop()


def test_hostile_text_stays_text_when_the_script_renders_it(browser, hostile_server):
    server, docs = hostile_server
    tab = Tab(browser, server.url)
    dialogs = []
    tab.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        rendered_by_server = tab.goto("/search?q=harbour+pilots").outline()
        tab.goto("/")
        type_query(tab, "harbour pilots")
        assert tab.outline() == rendered_by_server
        results = tab.page.locator("#results")
        assert results.locator("script, img, iframe, [onerror]").count() == 0
        assert docs[0]["title"] in tab.hit_titles()
        assert docs[0]["source"] in tab.page.locator("[data-facet=source] .value").all_inner_texts()
        hrefs = tab.page.locator("#results a").evaluate_all("els => els.map(a => a.protocol)")
        assert set(hrefs) <= {"http:", "https:"}
        assert dialogs == [] and tab.errors == []  # no script, image or handler in the results: nothing can fire later
    finally:
        tab.context.close()


@pytest.fixture(scope="module")
def awkward_server(tmp_path_factory):
    from test_web import write_awkward_index
    server = LiveServer(write_awkward_index(tmp_path_factory.mktemp("awkward-browser")))
    yield server
    server.stop()


@pytest.mark.parametrize("rendered_by", ["server", "script"])
def test_every_article_opens_from_a_click_whatever_its_id(browser, awkward_server, rendered_by):
    from test_web import AWKWARD_IDS
    tab = Tab(browser, awkward_server.url)
    try:
        server_markup = tab.goto("/search?q=lighthouse+keeper&per_page=50").outline()
        titles = []
        for i in range(len(AWKWARD_IDS)):
            if rendered_by == "server":
                tab.goto("/search?q=lighthouse+keeper&per_page=50")
            else:  # a first page for one word, then the script renders the results for the two
                tab.goto("/search?q=lighthouse&per_page=50")
                type_query(tab, "lighthouse keeper")
                if i == 0:
                    assert tab.outline() == server_markup  # the script links as the server does
            hit = tab.page.locator(".hit").nth(i)
            title = hit.locator(".hit-title a").inner_text()
            link = hit.locator("a.cached") if hit.locator("a.cached").count() else hit.locator(".hit-title a")
            with tab.page.expect_navigation():
                link.click()
            assert tab.page.locator("h1").inner_text() == title, (title, tab.page.url)
            titles.append(title)
        assert len(set(titles)) == len(AWKWARD_IDS)
        assert tab.errors == []
    finally:
        tab.context.close()


# --- counts that add up, errors that keep the form, waiting, small screens ------------------------

SUMMARY_COUNTS_JS = """() => {
  const total = +document.querySelector('#summary strong.total').textContent.replace(/,/g, '');
  const articles = document.querySelector('#summary .articles');
  const sum = f => [...document.querySelectorAll(`[data-facet=${f}] .count`)].reduce((n, c) => n + +c.textContent, 0);
  return {articles: articles ? +articles.textContent.replace(/[^0-9]/g, '') : total, source: sum('source'), year: sum('year')};
}"""


def test_facets_add_up_to_the_articles_the_summary_counts(tab):
    for path in ["/search?q=", "/search?q=council", "/search?q=&source=Coastline+Post"]:
        counts = tab.goto(path).page.evaluate(SUMMARY_COUNTS_JS)
        assert counts["year"] == counts["articles"], (path, counts)
        if "source=" not in path:  # with a source chosen, the source facet counts every source (to add one)
            assert counts["source"] == counts["articles"], (path, counts)
    tab.goto("/")
    type_query(tab, "flood")                  # rendered by the script
    counts = tab.page.evaluate(SUMMARY_COUNTS_JS)
    assert counts["source"] == counts["year"] == counts["articles"]
    tab.page.locator("[data-key='missing:source']").click()
    tab.page.wait_for_function("() => new URLSearchParams(location.search).get('missing') === 'source'")
    tab.settled()
    assert tab.page.locator(".chips .chip").all_inner_texts() == ["Source: unknown ×"]
    assert tab.page.locator(".hit .meta .source").count() == 0


def test_summary_says_where_you_are_and_newest_is_the_sort_of_the_empty_query(tab):
    tab.goto("/search?q=")
    tab.page.locator(".pager a[rel=next]").click()
    tab.page.wait_for_function("() => new URLSearchParams(location.search).get('page') === '2'")
    tab.settled()
    assert tab.page.locator("#summary").inner_text().startswith("11–20 of 35 stories (38 articles)")
    assert tab.page.locator("nav.sorts a[aria-current]").all_inner_texts() == ["Newest"]


def test_a_bad_date_range_keeps_the_form_with_the_message_beside_the_dates(tab):
    tab.goto("/search?q=flood&source=The+County+Chronicle")
    tab.page.locator("#date-from").fill("2024-05-01")
    tab.page.locator("#date-to").fill("2024-01-01")
    tab.page.locator(".daterange button").click()         # the script asks the API, which refuses: the page says why
    error = tab.page.locator("#date-error")
    error.wait_for()
    assert tab.page.locator("#q").input_value() == "flood"
    assert tab.page.locator(".chips .chip").all_inner_texts() == ["Source: The County Chronicle ×"]
    assert tab.page.locator("#date-from").input_value() == "2024-05-01"
    assert tab.page.locator("#date-to").input_value() == "2024-01-01"
    assert tab.page.locator("#date-from").get_attribute("aria-invalid") == "true"
    # beside the field: inside the date form, just under the date fields
    dates, message = tab.page.locator(".daterange .range").bounding_box(), error.bounding_box()
    assert 0 <= message["y"] - (dates["y"] + dates["height"]) < 40 and error.is_visible()
    tab.shot("error-dates")
    # fixing the field is enough: the query and the source stay
    tab.page.locator("#date-from").fill("2024-01-01")
    tab.page.locator("#date-to").fill("2024-05-01")
    tab.page.locator(".daterange button").click()
    tab.page.wait_for_function("() => new URLSearchParams(location.search).get('to') === '2024-05-01'")
    tab.settled()
    assert tab.page.locator("#date-error").count() == 0 and tab.params()["source"] == ["The County Chronicle"]
    tab.errors[:] = [e for e in tab.errors if "status of 400" not in e]  # Chromium's own line for the refused asks


def test_a_bad_page_number_keeps_the_query_and_says_so(tab):
    response = tab.page.goto(tab.base + "/search?q=strike&page=abc")
    assert response.status == 400
    assert tab.page.locator("#q").input_value() == "strike" and tab.hit_titles()
    assert "page must be a whole number" in tab.page.locator("[data-error=page]").inner_text()
    tab.errors[:] = [e for e in tab.errors if "status of 400" not in e]


EVENTS_JS = """(() => {
  if (window.__events) return;   // an init script may run twice in one document: listen once
  window.__events = [];
  for (const name of ['request', 'loading', 'done'])
    document.addEventListener('searchsvc:' + name, e => window.__events.push({name, ...e.detail}));
})()"""


def test_loading_indicator_shows_only_for_a_search_that_takes_longer_than_300_ms(tab):
    held = []
    tab.page.route("**/api/search?**", lambda route: held.append(route))   # the network holds these answers
    tab.page.add_init_script(EVENTS_JS)
    tab.goto("/")
    box = tab.page.locator("#q")
    box.press_sequentially("harbour", delay=10)
    tab.page.locator("#loading").wait_for(state="visible")                   # waits on the page, not a clock
    events = tab.page.evaluate("window.__events")
    asked = next(e for e in events if e["name"] == "request")
    shown = next(e for e in events if e["name"] == "loading")
    assert shown["id"] == asked["id"] and shown["at"] - asked["at"] >= 295
    assert tab.page.locator("#results").get_attribute("aria-busy") == "true"
    tab.shot("loading", full_page=False)
    from playwright.sync_api import Error as PlaywrightError

    for route in held:
        try:
            route.continue_()
        except PlaywrightError:  # an earlier keystroke's request, aborted by the page
            pass
    tab.page.unroute("**/api/search?**")
    tab.wait_for_query("harbour")
    assert tab.page.locator("#loading").is_hidden()
    # a search answered in time never shows it; one answered late shows it after 300 ms: what the page recorded
    box.fill("")
    box.press_sequentially("ferry", delay=10)
    tab.wait_for_query("ferry")
    events = tab.page.evaluate("window.__events")
    last = max(e["id"] for e in events if e["name"] == "request")
    asked = next(e for e in events if e["name"] == "request" and e["id"] == last)
    done = next(e for e in events if e["name"] == "done" and e["id"] == last)
    loading = [e for e in events if e["name"] == "loading" and e["id"] == last]
    assert done["outcome"] == "shown"
    if done["at"] - asked["at"] < 300:
        assert loading == []
    else:
        assert len(loading) == 1 and loading[0]["at"] - asked["at"] >= 295, events


def test_offline_gets_a_sentence_and_a_retry(tab):
    tab.goto("/search?q=strike")
    tab.context.set_offline(True)
    tab.page.locator("#q").fill("ferry")
    problem = tab.page.locator(".problem[data-problem=offline]")
    problem.wait_for()
    assert "could not reach the server" in problem.inner_text() and "Failed to fetch" not in problem.inner_text()
    assert tab.page.locator("#q").input_value() == "ferry"
    tab.shot("offline", full_page=False)
    tab.context.set_offline(False)
    problem.locator("button.retry").click()
    tab.wait_for_query("ferry")
    assert tab.hit_titles()
    tab.errors.clear()  # Chromium logs the failed fetch itself


def test_a_server_error_gets_a_sentence_and_a_retry(browser, tmp_path, sample_dir):
    from conftest import run_cli

    server = LiveServer(tmp_path / "ix")            # no index yet: the API answers 503
    tab = Tab(browser, server.url)
    try:
        tab.goto("/")
        tab.page.locator("#q").press_sequentially("ferry", delay=10)
        problem = tab.page.locator(".problem[data-problem=server]")
        problem.wait_for()
        assert "error 503" in problem.inner_text() and "index is not ready" in problem.inner_text()
        assert run_cli("reindex", sample_dir, "--index", tmp_path / "ix").returncode == 0
        problem.locator("button.retry").click()
        tab.wait_for_query("ferry")
        assert tab.hit_titles()
    finally:
        tab.context.close()
        server.stop()


def test_375px_has_a_filters_control_at_the_top_and_chips_above_the_results(browser, live_server):
    tab = Tab(browser, live_server.url, viewport={"width": 375, "height": 740})
    try:
        tab.goto("/search?q=&source=The+Harbor+Gazette&from=2024-01-01&to=2024-12-31")
        toggle = tab.page.locator(".filters-toggle")
        first_hit = tab.page.locator(".hit").first.bounding_box()
        assert toggle.is_visible() and toggle.inner_text() == "Filters (2)"
        assert toggle.bounding_box()["y"] < first_hit["y"] < 740
        chips = tab.page.locator(".chips .chip")
        assert chips.count() == 2 and all(chips.nth(i).bounding_box()["y"] < first_hit["y"] for i in range(2))
        assert tab.page.locator("#filters").is_hidden()
        tab.shot("mobile-375")
        toggle.click()
        assert toggle.get_attribute("aria-expanded") == "true"
        panel = tab.page.locator("#filters")
        assert panel.is_visible() and panel.bounding_box()["y"] < tab.page.locator(".hit").first.bounding_box()["y"]
        tab.shot("mobile-375-filters")
        tab.page.locator("[data-facet=source] a", has_text="Coastline Post").click()   # filters stay open to add more
        tab.page.wait_for_function("() => new URLSearchParams(location.search).getAll('source').length === 2")
        tab.settled()
        assert tab.page.locator(".filters-toggle").inner_text() == "Filters (3)" and panel.is_visible()
        assert tab.page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        wide = Tab(browser, live_server.url)
        try:
            assert wide.goto("/search?q=&source=The+Harbor+Gazette").page.locator(".filters-toggle").is_hidden()
            assert wide.page.locator("#filters").is_visible()
        finally:
            wide.context.close()
        assert tab.errors == []
    finally:
        tab.context.close()


def test_passages_read_in_article_order_and_titles_are_highlighted(tab, live_server):
    _, api = live_server.json("/api/search?q=council+budget")
    several = next(h for h in api["hits"] if len(h["snippets"]) > 1)
    offsets = [s["offset"] for s in several["snippets"]]
    assert offsets == sorted(offsets)
    tab.goto("/")
    type_query(tab, "council budget")
    hit = tab.page.locator(".hit").filter(has=tab.page.locator(".hit-title a", has_text=several["title"]))
    shown = hit.locator(".snippet").all_inner_texts()
    assert [" ".join(s.split()) for s in shown] == [" ".join(re.sub("<[^>]+>", "", s["text"]).replace("&#x27;", "'").replace("&quot;", '"').replace("&amp;", "&").split()) for s in several["snippets"]]
    assert hit.locator(".hit-title mark").count() >= 1
    box = tab.page.locator("#q")
    box.fill("")
    box.press_sequentially("ferry", delay=10)
    tab.wait_for_query("ferry")
    assert {m.lower() for m in tab.page.locator(".hit-title mark").all_inner_texts()} == {"ferry"}
    assert "Ferris" not in tab.page.locator(".snippet mark").all_inner_texts()
    assert any("Ferris" in s for s in tab.page.locator(".snippet").all_inner_texts())  # found, not marked
    tab.shot("titles-marked")


def test_ferry_ranks_the_ferry_stories_above_ferris_and_cyber_attack_finds_the_cyberattack(tab):
    tab.goto("/")
    type_query(tab, "ferry")
    titles = tab.hit_titles()
    football = titles.index("Northfield Rovers win county cup final on penalties")
    assert titles.index("Earthquake shakes southern archipelago, no casualties reported") < football
    assert football == len(titles) - 1  # every story with the word itself (or ferries) first
    type_query(tab, "cyber attack")
    assert "cyberattack" in tab.hit_titles()[0]
    assert tab.page.locator(".hit").first.locator(".snippet mark", has_text="cyberattack").count() >= 1
    assert "cover attack" not in tab.page.locator("main").inner_text()
    assert tab.page.locator("p.suggestion").count() == 0
    tab.shot("exact-forms-and-joined-words")
