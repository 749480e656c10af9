// akhbar search page. Every article string is set with textContent (never innerHTML): titles are hostile.
"use strict";

const FACETS = [
  ["source", "المصدر", "source"],
  ["country", "الدولة", "country"],
  ["place", "المكان", "place"],
  ["person", "الأشخاص", "person"],
  ["organization", "المنظمات", "organization"],
  ["event_type", "نوع الحدث", "type"],
];
const PAGE_SIZE = 10;
const dateFormat = new Intl.DateTimeFormat("ar", { dateStyle: "medium", timeStyle: "short" });

let map = null;
let markers = null;

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function segmentsNode(tag, segments, fallback) {
  const node = el(tag);
  const pieces = segments && segments.length ? segments : [[fallback || "", false]];
  for (const [text, matched] of pieces) node.append(matched ? el("mark", { text }) : document.createTextNode(text));
  return node;
}

function safeHref(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch (error) {
    return null;
  }
}

function currentParams() {
  return new URLSearchParams(window.location.search);
}

function navigate(params) {
  params.delete("offset");
  go(params);
}

function go(params) {
  history.pushState(null, "", "?" + params.toString());
  run();
}

function renderHit(hit) {
  const link = segmentsNode("a", hit.title_highlight, hit.title);
  const href = safeHref(hit.url);
  if (href) link.setAttribute("href", href);
  link.setAttribute("rel", "noopener noreferrer");
  const meta = el("div", { class: "meta" });
  meta.append(hit.source_name || hit.source);
  if (hit.published_at) meta.append(" · " + dateFormat.format(new Date(hit.published_at)));
  if (hit.reported_count > 1) {
    meta.append(" · ");
    meta.append(el("span", { class: "reported", text: `نقلته ${hit.outlet_count} وسائل إعلام` }));
  }
  const chips = el("div", { class: "chips" });
  for (const place of hit.places) chips.append(el("span", { class: "chip", text: place.name }));
  for (const type of hit.event_types) chips.append(el("span", { class: "chip", text: type }));
  return el("li", { class: "hit" }, [el("h3", {}, [link]), meta, segmentsNode("p", hit.snippet, ""), chips]);
}

function renderFacets(facets) {
  const aside = document.getElementById("facets");
  aside.replaceChildren();
  const params = currentParams();
  for (const [facet, label, param] of FACETS) {
    const values = facets[facet] || [];
    if (!values.length) continue;
    const list = el("ul");
    for (const { value, count } of values) {
      const active = params.getAll(param).includes(value);
      const button = el("button", { type: "button", "aria-pressed": String(active), "data-facet": param }, [
        el("span", { text: value }),
        el("span", { class: "count", text: String(count) }),
      ]);
      button.addEventListener("click", () => {
        const next = currentParams();
        const kept = next.getAll(param).filter((v) => v !== value);
        next.delete(param);
        for (const v of active ? kept : [...kept, value]) next.append(param, v);
        navigate(next);
      });
      list.append(el("li", {}, [button]));
    }
    aside.append(el("section", {}, [el("h2", { text: label }), list]));
  }
}

function renderActiveFilters() {
  const box = document.getElementById("active-filters");
  box.replaceChildren();
  const params = currentParams();
  for (const [, label, param] of FACETS) {
    for (const value of params.getAll(param)) {
      const button = el("button", { type: "button", class: "active-filter", text: `${label}: ${value} ✕` });
      button.addEventListener("click", () => {
        const next = currentParams();
        const kept = next.getAll(param).filter((v) => v !== value);
        next.delete(param);
        for (const v of kept) next.append(param, v);
        navigate(next);
      });
      box.append(button);
    }
  }
}

function renderMap(hits) {
  if (!map) return;
  markers.clearLayers();
  const places = new Map();
  for (const hit of hits) {
    for (const place of hit.places) {
      if (place.lat === null || place.lon === null) continue;
      const key = `${place.lat},${place.lon}`;
      const entry = places.get(key) || { place, count: 0 };
      entry.count += 1;
      places.set(key, entry);
    }
  }
  const bounds = [];
  for (const { place, count } of places.values()) {
    const popup = el("div", {}, [el("strong", { text: place.name }), el("div", { text: `${count} نتيجة` })]);
    L.circleMarker([place.lat, place.lon], { radius: 6 + Math.min(count, 10), color: "#0b6e4f" })
      .bindPopup(popup)
      .addTo(markers);
    bounds.push([place.lat, place.lon]);
  }
  if (bounds.length) map.fitBounds(bounds, { maxZoom: 7, padding: [20, 20] });
}

async function run() {
  const params = currentParams();
  document.getElementById("q").value = params.get("q") || "";
  document.getElementById("sort").value = params.get("sort") || "relevance";
  const summary = document.getElementById("summary");
  const results = document.getElementById("results");
  const api = new URLSearchParams(params);
  api.set("limit", String(PAGE_SIZE));
  const response = await fetch("/api/search?" + api.toString());
  const body = await response.json();
  renderActiveFilters();
  if (!response.ok) {
    summary.className = "error";
    summary.textContent = body.error || "تعذر البحث";
    results.replaceChildren();
    return;
  }
  const offset = Number(params.get("offset") || 0);
  summary.className = "";
  summary.textContent = `${body.total} نتيجة`;
  results.replaceChildren(...body.hits.map(renderHit));
  renderFacets(body.facets);
  renderMap(body.hits);
  document.getElementById("prev").hidden = offset === 0;
  document.getElementById("next").hidden = offset + PAGE_SIZE >= body.total;
  document.body.dataset.state = "ready";
}

function page(delta) {
  const params = currentParams();
  const offset = Math.max(0, Number(params.get("offset") || 0) + delta);
  params.set("offset", String(offset));
  go(params);
}

async function setupMap() {
  const response = await fetch("/api/config");
  const config = await response.json();
  map = L.map("map").setView([30, 38], 4);
  L.tileLayer(config.tile_url, { attribution: config.attribution, maxZoom: 18 }).addTo(map);
  markers = L.layerGroup().addTo(map);
}

document.getElementById("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const params = currentParams();
  params.set("q", document.getElementById("q").value);
  params.set("sort", document.getElementById("sort").value);
  navigate(params);
});
document.getElementById("prev").addEventListener("click", () => page(-PAGE_SIZE));
document.getElementById("next").addEventListener("click", () => page(PAGE_SIZE));
window.addEventListener("popstate", run);
setupMap().then(run);
