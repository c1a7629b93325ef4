// searchsvc: search as you type over /api/search, keyboard moves, history that follows the query.
// Everything works without this file: the form submits to /search and every filter is a link.
// Results are built as DOM nodes (textContent); a snippet's HTML arrives escaped with only <mark>,
// and only its text and <mark> nodes are re-created here. The markup mirrors templates/search.html.
(function () {
  "use strict";
  var DEBOUNCE_MS = 160;
  var LOADING_AFTER_MS = 300;   // the loading indicator shows when an answer takes longer than this
  document.documentElement.classList.add("js");
  var box = document.getElementById("q");
  var form = document.getElementById("searchform");
  var area = document.getElementById("results");
  var summary = document.getElementById("summary");
  var loading = document.getElementById("loading");
  var sortsNav = document.getElementById("sorts");
  var main = document.getElementById("main");

  // --- keyboard: "/" focuses the box, arrows move through results, Enter opens (native) ---
  function isField(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey || !box) return;
    var el = document.activeElement;
    if (e.key === "/" && !isField(el)) {
      e.preventDefault();
      box.focus();
      box.select();
      return;
    }
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    var links = Array.prototype.slice.call(document.querySelectorAll(".hit .hit-title a"));
    if (!links.length) return;
    var down = e.key === "ArrowDown";
    if (el === box) {
      if (down) { e.preventDefault(); focusHit(links[0]); }
      return;
    }
    var hit = el && el.closest ? el.closest(".hit") : null;
    if (!hit || isField(el)) return;
    var i = links.indexOf(hit.querySelector(".hit-title a"));
    e.preventDefault();
    if (down && i < links.length - 1) focusHit(links[i + 1]);
    else if (!down && i > 0) focusHit(links[i - 1]);
    else if (!down) box.focus();
  });

  function focusHit(link) {
    link.focus();
    if (link.scrollIntoView) link.scrollIntoView({ block: "nearest" });
  }

  if (!area || !box || !form || !window.fetch || !window.URLSearchParams || !window.history.pushState) return;

  var SORTS = JSON.parse(area.getAttribute("data-sorts") || "[]");
  var MISSING = ["source", "date"];   // search.MISSING: the "no value" buckets, in this order
  var MISSING_LABELS = { source: "Unknown source", date: "Undated" };
  var MAX_PAGE = parseInt(area.getAttribute("data-max-page"), 10) || 1000;
  var ARTICLE_BASE = area.getAttribute("data-article-base") || "/article/";
  var SEARCH_PATH = area.getAttribute("data-search-path") || "/search";
  var HOME_PATH = new URL(document.querySelector(".brand").href).pathname;
  var homeContent = location.pathname === HOME_PATH ? area.cloneNode(true) : null;
  var seq = 0, controller = null, timer = null, loadingTimer = null, shown = location.search, filtersOpen = false;
  var dateFormat = new Intl.DateTimeFormat("en-US", { timeZone: "UTC", year: "numeric", month: "long", day: "numeric" });

  history.replaceState({ searchsvc: true, typing: false }, "");

  // --- small DOM helpers ---
  function h(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) node.setAttribute(k, attrs[k]);
    });
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }
  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(node, c); }); return; }
    node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
  function hidden(text) { return h("span", { "class": "visually-hidden" }, text); }
  function marked(html) {
    // Server HTML is escaped text plus <mark>: keep text and <mark> only, never other markup.
    var doc = new DOMParser().parseFromString("<!doctype html><body>" + (html || ""), "text/html");
    var frag = document.createDocumentFragment();
    Array.prototype.forEach.call(doc.body.childNodes, function (n) {
      if (n.nodeType === 1 && n.tagName === "MARK") frag.appendChild(h("mark", {}, n.textContent));
      else frag.appendChild(document.createTextNode(n.textContent));
    });
    return frag;
  }
  function humanDate(iso) {
    var d = new Date(iso);
    return isNaN(d) ? iso : dateFormat.format(d);
  }
  function safeLink(url) {
    if (!url) return null;
    try {
      var u = new URL(url.trim());
      return u.protocol === "http:" || u.protocol === "https:" ? url.trim() : null;
    } catch (err) { return null; }
  }

  // --- URLs: the same rules as web.page_url ---
  function pageUrl(params, changes) {
    var p = new URLSearchParams(params.toString());
    Object.keys(changes).forEach(function (k) {
      var v = changes[k];
      p.delete(k);
      if (v === null || v === undefined) return;
      (Array.isArray(v) ? v : [v]).forEach(function (x) { p.append(k, x); });
    });
    if (!("page" in changes)) p.delete("page");
    if (!("after" in changes)) p.delete("after");
    var clean = new URLSearchParams();
    p.forEach(function (v, k) { if (v !== "" || k === "q") clean.append(k, v); });
    var s = clean.toString();
    return SEARCH_PATH + (s ? "?" + s : "");
  }
  // web.article_url: a path while the id reads as one, else ?id= (a browser drops "." and ".." segments,
  // a doubled slash is merged, a path never holds a newline)
  var UNSAFE_IN_PATH = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/;
  function pathSafe(id) {
    return id !== "" && !UNSAFE_IN_PATH.test(id) &&
      id.split("/").every(function (seg) { return seg !== "" && seg !== "." && seg !== ".."; });
  }
  function articleUrl(id, q) {
    var query = q ? "q=" + encodeURIComponent(q) : "";
    if (pathSafe(id)) return ARTICLE_BASE + id.split("/").map(encodeURIComponent).join("/") + (query ? "?" + query : "");
    return ARTICLE_BASE.replace(/\/$/, "") + "?id=" + encodeURIComponent(id) + (query ? "&" + query : "");
  }
  function apiUrl(params, extra) {
    var p = new URLSearchParams(params.toString());
    Object.keys(extra || {}).forEach(function (k) {
      p.delete(k);
      if (extra[k] === null) return;
      (Array.isArray(extra[k]) ? extra[k] : [extra[k]]).forEach(function (x) { p.append(k, x); });
    });
    p.set("explain", "true");
    return "api/search?" + p.toString();
  }

  // --- fetching: stale answers dropped, earlier requests aborted ---
  function getJSON(url, signal) {
    return fetch(new URL(url, location.origin + HOME_PATH), { signal: signal, headers: { Accept: "application/json" } })
      .then(function (r) {
        return r.json().catch(function () { return null; }).then(function (body) {
          if (!r.ok) {
            var err = new Error((body && body.error && body.error.message) || "");
            err.status = r.status;
            throw err;
          }
          return body;
        });
      });
  }

  // The page announces each search's states as events on document, so that what the loading
  // indicator does can be followed: searchsvc:request, searchsvc:loading (the indicator shows),
  // searchsvc:done (detail.outcome: "shown", "failed", "stale").
  function announce(name, detail) {
    document.dispatchEvent(new CustomEvent("searchsvc:" + name, { detail: detail }));
  }

  function setLoading(on) {
    if (loading) loading.hidden = !on;
  }

  function run(params, how, focusKey) {
    var id = ++seq;
    if (controller) controller.abort();
    controller = window.AbortController ? new AbortController() : null;
    var signal = controller ? controller.signal : undefined;
    area.setAttribute("aria-busy", "true");
    clearTimeout(loadingTimer);
    loadingTimer = setTimeout(function () {
      if (id !== seq) return;
      setLoading(true);
      announce("loading", { id: id, at: performance.now() });
    }, LOADING_AFTER_MS);
    announce("request", { id: id, at: performance.now() });
    var sources = params.getAll("source").filter(Boolean);
    var chooses = sources.length || params.getAll("missing").indexOf("source") >= 0;
    var asks = [getJSON(apiUrl(params), signal)];
    if (chooses) asks.push(getJSON(apiUrl(params, { source: null, missing: withoutMissing(params, "source"), page: "1", per_page: "1", after: null }), signal));
    return Promise.all(asks).then(function (answers) {
      if (id !== seq) return announce("done", { id: id, at: performance.now(), outcome: "stale" });
      var data = answers[0];
      var allSources = answers[1] ? answers[1].facets.source : data.facets.source;
      commit(params, how);
      render(params, data, allSources);
      afterRender(focusKey);
      announce("done", { id: id, at: performance.now(), outcome: "shown" });
    }, function (err) {
      if (id !== seq || (err && err.name === "AbortError")) return announce("done", { id: id, at: performance.now(), outcome: "stale" });
      if (err && err.status === 400) {   // a parameter the server cannot use: its page shows the form with the message
        location.assign(pageUrl(params, { page: params.get("page"), after: params.get("after") }));
        return;
      }
      commit(params, how);
      renderProblem(err, function () { run(params, "replace", "main"); });
      announce("done", { id: id, at: performance.now(), outcome: "failed" });
    }).then(function () {
      if (id === seq) {
        clearTimeout(loadingTimer);
        setLoading(false);
        area.removeAttribute("aria-busy");
      }
    });
  }

  function withoutMissing(params, name) {
    var rest = params.getAll("missing").filter(function (m) { return m && m !== name; });
    return rest.length ? rest : null;
  }

  function commit(params, how) {
    var url = pageUrl(params, { page: params.get("page"), after: params.get("after") });
    shown = url.slice(url.indexOf("?") >= 0 ? url.indexOf("?") : url.length);
    var state = { searchsvc: true, typing: how === "type" };
    if (how === "push" || (how === "type" && !(history.state && history.state.typing))) history.pushState(state, "", url);
    else if (how !== "none") history.replaceState(state, "", url);
    var q = params.get("q") || "";
    document.title = (q ? q + " · " : "") + "searchsvc";
    if (how !== "type" && box.value !== q) box.value = q;
    syncForm(params);
  }

  function afterRender(focusKey) {
    if (!focusKey) return;
    var target = focusKey === "main" ? null : area.querySelector('[data-key="' + CSS.escape(focusKey) + '"]') ||
      (sortsNav && sortsNav.querySelector('[data-key="' + CSS.escape(focusKey) + '"]'));
    if (target) target.focus();
    else { main.focus({ preventScroll: true }); window.scrollTo(0, 0); }
  }

  function syncForm(params) {
    Array.prototype.slice.call(form.querySelectorAll("input[type=hidden]")).forEach(function (n) { n.remove(); });
    var button = form.querySelector("button");
    [["sort", params.get("sort") && params.get("sort") !== "relevance" ? [params.get("sort")] : []],
     ["source", params.getAll("source").filter(Boolean)],
     ["from", params.get("from") ? [params.get("from")] : []],
     ["to", params.get("to") ? [params.get("to")] : []],
     ["missing", missingOf(params)]].forEach(function (pair) {
      pair[1].forEach(function (v) { form.insertBefore(h("input", { type: "hidden", name: pair[0], value: v }), button); });
    });
  }

  // --- rendering: the same markup as templates/search.html ---
  function number(n) { return n.toLocaleString("en-US"); }

  function render(params, data, allSources) {
    var asked = params.get("q") || "";
    var q = data.corrected && data.suggestion ? data.suggestion : asked;   // the words the hits answer
    var view = resultsView(params, data, allSources);
    var s = view.summary;
    summary.textContent = "";
    if (data.total) {
      if (s.first) append(summary, [h("strong", { "class": "position" }, number(s.first) + "–" + number(s.last)), " of "]);
      append(summary, [h("strong", { "class": "total" }, number(s.total)), " " + s.noun]);
      if (s.articles !== null) append(summary, [" ", h("span", { "class": "articles" }, "(" + number(s.articles) + " articles)")]);
      if (q) append(summary, [" for ", h("q", {}, q)]);
    } else {
      append(summary, "No results");
      if (asked) append(summary, [" for ", h("q", {}, asked)]);
    }
    append(summary, [" ", h("span", { "class": "took" }, "in " + Math.round(data.took_ms) + " ms")]);

    sortsNav.textContent = "";
    sortsNav.hidden = false;
    append(sortsNav, h("span", { "class": "sort-label", "aria-hidden": "true" }, "Sort"));
    view.sorts.forEach(function (x) {
      append(sortsNav, h("a", { href: x.url, "data-key": "sort:" + x.value, "aria-current": x.current ? "true" : null }, x.label));
    });

    var out = [];
    var fix = data.suggestion ? h("a", { href: pageUrl(params, { q: data.suggestion }), "data-key": "suggestion" }, data.suggestion) : null;
    if (fix && data.corrected) {
      out.push(h("p", { "class": "suggestion" }, "Nothing matched ", h("q", {}, asked), "; showing results for ", fix, "."));
    } else {
      if (data.relaxed) out.push(h("p", { "class": "note relaxed" }, "Nothing matched ", h("q", {}, asked), " as written; showing articles with its words."));
      if (fix) out.push(h("p", { "class": "suggestion" }, "Did you mean ", fix, "?"));
    }
    var tiers = tiersLine(data.total, data.total_all_words);
    if (tiers) out.push(h("p", { "class": "note tiers" }, tiers));
    out.push(renderFilterbar(view));
    var results = h("section", { "class": "results", "aria-label": "Results" });
    if (view.pastEnd) results.appendChild(pastEnd(view, data, q));
    else if (!data.hits.length) results.appendChild(emptyState(params, data, view));
    else {
      results.appendChild(h("ol", { "class": "hits", start: String(data.offset + 1) },
        data.hits.map(function (hit) { return renderHit(hit, q); })));
    }
    if (view.pager) results.appendChild(renderPager(view.pager));
    out.push(h("div", { "class": "layout" + (filtersOpen ? " filters-open" : "") }, results, renderFilters(params, view)));
    area.textContent = "";
    append(area, out);
    syncToggle();
  }

  // where the results with every word end, when others follow them (ResultPage.tiers_note in search.py says the same)
  function tiersLine(total, allWords) {
    if (allWords === null || allWords === undefined || !total || allWords >= total) return null;
    if (allWords === 0) return "No result has all your words; these have some of them.";
    if (allWords === 1) return "The first result has all your words; the rest have some of them.";
    return "The first " + number(allWords) + " results have all your words; the rest have some of them.";
  }

  function renderFilterbar(view) {
    var bar = h("div", { "class": "filterbar" },
      h("a", { "class": "filters-toggle", href: "#filters", "aria-controls": "filters", "aria-expanded": "false", "data-key": "filters" },
        "Filters" + (view.active.length ? " (" + view.active.length + ")" : "")));
    if (view.active.length) {
      bar.appendChild(h("ul", { "class": "chips", "aria-label": "Active filters" },
        view.active.map(function (a) {
          return h("li", {}, h("a", { "class": "chip", href: a[1], "data-key": "remove:" + a[0], "aria-label": "Remove " + a[0] },
            a[0], h("span", { "aria-hidden": "true" }, " ×")));
        }),
        view.active.length > 1 ? h("li", {}, h("a", { "class": "clear", href: view.clearUrl, "data-key": "clear" }, "Clear all filters")) : null));
    }
    return bar;
  }

  // Offline or a server error: a sentence and a way to try again (the form and the address stay as they are).
  function renderProblem(err, retry) {
    var offline = !navigator.onLine || !err || !err.status;
    var sentence = offline
      ? "The search could not reach the server. Check your connection, then try again."
      : "The server could not answer this search (error " + err.status + ")" +
        (err.status === 503 ? ": its index is not ready yet." : ".") + " Try again in a moment.";
    var button = h("button", { type: "button", "class": "retry", "data-key": "retry" }, "Try again");
    button.addEventListener("click", retry);
    summary.textContent = "";
    area.textContent = "";
    area.appendChild(h("div", { "class": "problem", role: "alert", "data-problem": offline ? "offline" : "server" },
      h("p", {}, sentence), button));
  }

  function pastEnd(view, data, q) {
    var p = view.pastEnd;
    return h("div", { "class": "empty past-end" },
      h("h2", {}, "There is no page " + p.page),
      h("p", {}, "The " + number(data.total) + " " + view.summary.noun, q ? [" for ", h("q", {}, q)] : null,
        " end on page " + p.last + ": ", h("a", { href: p.url, "data-key": "page:" + p.last }, "go to page " + p.last), "."));
  }

  function emptyState(params, data, view) {
    var q = params.get("q") || "";
    var tips = h("ul", {});
    if (data.suggestion) tips.appendChild(h("li", {}, "the spelling ", h("a", { href: pageUrl(params, { q: data.suggestion }) }, data.suggestion)));
    if (view.active.length) tips.appendChild(h("li", {}, h("a", { href: view.clearUrl }, "removing the filters")));
    tips.appendChild(h("li", {}, "fewer words, or ", h("code", {}, "OR"), " between them"));
    tips.appendChild(h("li", {}, "the start of a word and ", h("code", {}, "*"), ", e.g. ", h("code", {}, "elect*")));
    tips.appendChild(h("li", {}, h("a", { href: SEARCH_PATH + "?q=" }, "the newest articles")));
    return h("div", { "class": "empty" },
      h("h2", {}, "Nothing matched", q ? [" ", h("q", {}, q)] : null, view.active.length ? " with these filters" : null),
      h("p", {}, "Try:"), tips);
  }

  function renderHit(hit, q) {
    var link = safeLink(hit.url);
    var article = articleUrl(hit.id, q);
    var li = h("li", { "class": "hit" },
      h("h2", { "class": "hit-title" }, h("a", { href: link || article }, hit.title_html ? marked(hit.title_html) : hit.title)),
      h("p", { "class": "meta" },
        hit.source ? h("span", { "class": "source" }, hit.source) : null,
        hit.published ? h("time", { datetime: hit.published }, humanDate(hit.published)) : null,
        hit.author ? h("span", { "class": "author" }, hit.author) : null));
    if (hit.snippets && hit.snippets.length > 1) {
      hit.snippets.forEach(function (x) { li.appendChild(h("p", { "class": "snippet" }, marked(x.text))); });
    } else if (hit.snippet) {
      li.appendChild(h("p", { "class": "snippet" }, marked(hit.snippet)));
    }
    var matched = hit.explain && hit.explain.matched;
    var dups = hit.duplicates || [];
    if (link || dups.length || (matched && matched.length)) {
      var more = h("div", { "class": "hit-more" });
      if (link) more.appendChild(h("a", { "class": "cached", href: article }, "Read the text here"));
      if (dups.length) {
        more.appendChild(h("details", { "class": "versions" },
          h("summary", {}, dups.length + " more version" + (dups.length === 1 ? "" : "s")),
          h("ul", {}, dups.map(function (d) {
            return h("li", {}, h("a", { href: articleUrl(d.id, q) }, d.title),
              d.source ? [" ", h("span", { "class": "source" }, d.source)] : null,
              d.published ? [" ", h("time", { datetime: d.published }, humanDate(d.published))] : null);
          }))));
      }
      if (matched && matched.length) {
        more.appendChild(h("details", { "class": "why" }, h("summary", {}, "Why"),
          h("ul", {}, matched.map(function (m) {
            return h("li", {}, h("b", {}, m.term), " in " + m.field + (m.via && m.via !== "exact" ? " (" + m.via + ")" : ""));
          }))));
      }
      li.appendChild(more);
    }
    return li;
  }

  function renderPager(pager) {
    var nav = h("nav", { "class": "pager", "aria-label": "Pages" });
    if (pager.prev) nav.appendChild(h("a", { rel: "prev", href: pager.prev, "data-key": "page:prev" }, h("span", { "aria-hidden": "true" }, "← "), "Previous"));
    pager.pages.forEach(function (p) {
      if (p.gap) nav.appendChild(h("span", { "class": "gap", "aria-hidden": "true" }, "…"));
      else nav.appendChild(h("a", { href: p.url, "aria-current": p.current ? "page" : null, "data-key": "page:" + p.number }, hidden("Page "), String(p.number)));
    });
    if (pager.next) nav.appendChild(h("a", { rel: "next", href: pager.next, "data-key": "page:next" }, "Next", h("span", { "aria-hidden": "true" }, " →")));
    return nav;
  }

  function facetLink(f) {
    var cls = [f.selected ? "selected" : null, f.missing ? "missing" : null].filter(Boolean).join(" ");
    return h("a", { href: f.url, "data-key": f.key, "class": cls || null, "aria-current": f.selected ? "true" : null },
      h("span", { "class": "value" }, f.value),
      f.count !== null ? [" ", h("span", { "class": "count" }, String(f.count))] : null,
      f.selected ? hidden(" (selected, activate to remove)") : null);
  }

  function renderFilters(params, view) {
    var aside = h("aside", { id: "filters", "class": "filters", "aria-label": "Filters" });
    if (view.sources.length) {
      aside.appendChild(h("section", { "class": "filter-group", "aria-labelledby": "h-source" },
        h("h2", { id: "h-source" }, "Source"),
        h("ul", { "class": "facet", "data-facet": "source" }, view.sources.map(function (f) { return h("li", {}, facetLink(f)); }))));
    }
    var sort = params.get("sort");
    var dateForm = h("form", { "class": "daterange", action: SEARCH_PATH, method: "get" },
      h("input", { type: "hidden", name: "q", value: params.get("q") || "" }),
      sort && sort !== "relevance" ? h("input", { type: "hidden", name: "sort", value: sort }) : null,
      uniqueSources(params).map(function (x) { return h("input", { type: "hidden", name: "source", value: x }); }),
      missingOf(params).map(function (m) { return h("input", { type: "hidden", name: "missing", value: m }); }),
      h("div", { "class": "range" },
        h("label", { "for": "date-from" }, "From"),
        h("input", { type: "date", id: "date-from", name: "from", value: isoDay(params.get("from")) }),
        h("label", { "for": "date-to" }, "To"),
        h("input", { type: "date", id: "date-to", name: "to", value: isoDay(params.get("to"), true) })),
      h("button", { type: "submit" }, "Apply dates"));
    aside.appendChild(h("section", { "class": "filter-group", "aria-labelledby": "h-date" },
      h("h2", { id: "h-date" }, "Date"),
      view.years.length ? h("ul", { "class": "facet", "data-facet": "year" }, view.years.map(function (f) { return h("li", {}, facetLink(f)); })) : null,
      dateForm));
    return aside;
  }

  function isoDay(raw, end) {
    // The server reads YYYY, YYYY-MM and YYYY-MM-DD…; the form shows the day it means
    // (the first day of a year or month, or for "to" its last).
    if (!raw) return "";
    if (raw.length >= 10) return raw.slice(0, 10);
    var m = /^(\d{4})(?:-(\d{2}))?$/.exec(raw);
    if (!m) return "";
    var y = +m[1], month = m[2] ? +m[2] : (end ? 12 : 1);
    var day = end ? new Date(Date.UTC(y, month, 0)).getUTCDate() : 1;
    return m[1] + "-" + String(month).padStart(2, "0") + "-" + String(day).padStart(2, "0");
  }

  function uniqueSources(params) {
    return params.getAll("source").filter(function (x, i, all) { return x && all.indexOf(x) === i; });
  }

  function missingOf(params) {
    var chosen = params.getAll("missing");
    return MISSING.filter(function (m) { return chosen.indexOf(m) >= 0; });
  }

  // --- what the summary, filters, sort switch and pager show: the same rules as web.results_view ---
  function resultsView(params, data, allSources) {
    var sources = uniqueSources(params);
    var missing = missingOf(params);
    var from = isoDay(params.get("from")), to = isoDay(params.get("to"), true);
    var year = from && to && from.slice(0, 4) === to.slice(0, 4) && from.slice(4) === "-01-01" && to.slice(4) === "-12-31" ? from.slice(0, 4) : null;
    var without = function (x) { return sources.filter(function (y) { return y !== x; }); };
    var others = function (name) { return missing.filter(function (m) { return m !== name; }); };
    var active = sources.map(function (x) { return ["Source: " + x, pageUrl(params, { source: without(x) })]; });
    if (missing.indexOf("source") >= 0) active.push(["Source: unknown", pageUrl(params, { missing: others("source") })]);
    if (from || to) active.push(["Date: " + (year || (from || "…") + " to " + (to || "…")), pageUrl(params, { from: null, to: null })]);
    if (missing.indexOf("date") >= 0) active.push(["Date: undated", pageUrl(params, { missing: others("date") })]);
    var listed = allSources.filter(function (f) { return !f.missing; }).map(function (f) { return f.value; });
    var sourceItems = sources.filter(function (x) { return listed.indexOf(x) < 0; }).map(function (x) {
      return { key: "source:" + x, value: x, count: null, selected: true, missing: false, url: pageUrl(params, { source: without(x) }) };
    }).concat(allSources.map(function (f) {
      if (f.missing) {
        var onM = missing.indexOf("source") >= 0;
        return { key: "missing:source", value: MISSING_LABELS.source, count: f.count, missing: true, selected: onM,
                 url: pageUrl(params, { missing: onM ? others("source") : others("source").concat(["source"]) }) };
      }
      var on = sources.indexOf(f.value) >= 0;
      return { key: "source:" + f.value, value: f.value, count: f.count, selected: on, missing: false,
               url: pageUrl(params, { source: on ? without(f.value) : sources.concat([f.value]) }) };
    }));
    var yearItems = (data.facets.year || []).map(function (f) {
      if (f.missing) {
        var onU = missing.indexOf("date") >= 0;
        return { key: "missing:date", value: MISSING_LABELS.date, count: f.count, missing: true, selected: onU && !(from || to),
                 url: onU ? pageUrl(params, { missing: others("date") }) : pageUrl(params, { missing: others("date").concat(["date"]), from: null, to: null }) };
      }
      var on = f.value === year;
      return { key: "year:" + f.value, value: f.value, count: f.count, selected: on, missing: false,
               url: pageUrl(params, on ? { from: null, to: null, missing: others("date") } : { from: f.value + "-01-01", to: f.value + "-12-31", missing: others("date") }) };
    });
    return {
      summary: summaryView(data),
      active: active,
      clearUrl: pageUrl(params, { source: null, missing: null, from: null, to: null }),
      sources: sourceItems,
      years: yearItems,
      sorts: SORTS.map(function (x) {
        return { value: x[0], label: x[1], current: x[0] === data.sort, url: pageUrl(params, { sort: x[0] === "relevance" ? null : x[0] }) };
      }),
      pager: pagerView(params, data),
      pastEnd: pastEndView(params, data)
    };
  }

  function summaryView(data) {
    var stories = data.total !== data.articles;
    var noun = data.total === 1 ? (stories ? "story" : "article") : (stories ? "stories" : "articles");
    return { first: data.hits.length ? data.offset + 1 : 0, last: data.offset + data.hits.length, total: data.total,
             articles: stories ? data.articles : null, noun: noun };
  }

  function pastEndView(params, data) {
    if (data.hits.length || !data.total || params.get("after")) return null;
    var last = Math.min(data.pages, MAX_PAGE);
    return { page: data.page, last: last, url: pageUrl(params, { page: last > 1 ? String(last) : null }) };
  }

  function pagerView(params, data) {
    if (params.get("after")) return { prev: null, next: data.next ? pageUrl(params, { after: data.next }) : null, pages: [] };
    var last = Math.min(data.pages, MAX_PAGE);
    if (data.pages <= 1) return null;
    var next = data.page < last ? pageUrl(params, { page: String(data.page + 1) }) : (data.next ? pageUrl(params, { after: data.next }) : null);
    var prev = data.page > 1 ? pageUrl(params, { page: String(data.page - 1) }) : null;
    var numbers = [1, last];
    for (var n = Math.max(1, data.page - 2); n <= Math.min(last, data.page + 2); n++) numbers.push(n);
    numbers = numbers.filter(function (x, i, all) { return all.indexOf(x) === i; }).sort(function (a, b) { return a - b; });
    var items = [], before = 0;
    numbers.forEach(function (x) {
      if (x - before > 1) items.push({ gap: true });
      items.push({ number: x, current: x === data.page, url: pageUrl(params, { page: x > 1 ? String(x) : null }) });
      before = x;
    });
    return { prev: prev, next: next, pages: items };
  }

  // --- events ---
  function currentParams() {
    return new URLSearchParams(location.pathname === SEARCH_PATH ? location.search : "");
  }

  box.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var p = currentParams();
      p.set("q", box.value);
      p.delete("page");
      p.delete("after");
      run(p, "type");
    }, DEBOUNCE_MS);
  });

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    clearTimeout(timer);
    var p = currentParams();
    p.set("q", box.value);
    p.delete("page");
    p.delete("after");
    run(p, history.state && history.state.typing ? "replace" : "push");
  });

  main.addEventListener("submit", function (e) {
    if (!e.target.classList.contains("daterange")) return;
    e.preventDefault();
    var p = new URLSearchParams(new FormData(e.target));
    run(p, "push", "main");
  });

  // "Filters (N)" at small widths: opens the filter panel above the results (without this file: a link down to it)
  function syncToggle() {
    var layout = area.querySelector(".layout");
    var toggle = area.querySelector(".filters-toggle");
    if (layout) layout.classList.toggle("filters-open", filtersOpen);
    if (toggle) toggle.setAttribute("aria-expanded", filtersOpen ? "true" : "false");
  }

  function onLink(e) {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    var a = e.target.closest ? e.target.closest("a[href]") : null;
    if (!a) return;
    if (a.classList.contains("filters-toggle")) {
      e.preventDefault();
      filtersOpen = !filtersOpen;
      syncToggle();
      var first = filtersOpen && area.querySelector(".filters a, .filters input");
      if (first) first.focus();
      return;
    }
    var url = new URL(a.href, location.href);
    if (url.origin !== location.origin || url.pathname !== SEARCH_PATH) return;
    e.preventDefault();
    var key = a.getAttribute("data-key");
    var focusKey = !key || key.indexOf("page:") === 0 || key === "suggestion" || key === "clear" || key.indexOf("remove:") === 0 ? "main" : key;
    run(url.searchParams, "push", focusKey);
  }
  main.addEventListener("click", onLink);

  window.addEventListener("popstate", function () {
    if (location.pathname === SEARCH_PATH) {
      if (location.search === shown) return;   // only the #fragment changed
      run(new URLSearchParams(location.search), "none");
    } else if (location.pathname === HOME_PATH && homeContent) {
      seq++;
      if (controller) controller.abort();
      shown = "";
      area.replaceWith(homeContent.cloneNode(true));
      area = document.getElementById("results");
      summary.textContent = "";
      sortsNav.hidden = true;
      box.value = "";
      syncForm(new URLSearchParams());
      document.title = "searchsvc";
    } else {
      location.reload();
    }
  });
})();
