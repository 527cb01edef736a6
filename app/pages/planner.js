/* The planner's workspace: coverage of a procedure, what-if edits on the map, new-site suggestions, exports.
 *
 * Every figure comes from the API (window.PLANNER_CONFIG.api): GET /v1/coverage (today against the pre-merger
 * network), POST /v1/coverage (a scenario against today), POST /v1/coverage/sites (maximal covering),
 * POST /v1/coverage/scenarios/read (a scenario file, read as the CLI reads it), POST /v1/coverage/export.
 * Problems the API reports are shown as a sentence on the page, in the page's language.
 */
(function () {
  "use strict";
  const C = window.PLANNER_CONFIG;
  const S = C.strings;
  const LOCALE = C.lang === "vi" ? "vi-VN" : "en-GB";
  const $ = (id) => document.getElementById(id);
  const SHARE_STEPS = [[80, "#253494"], [60, "#2c7fb8"], [40, "#41b6c4"], [20, "#a1dab4"], [0, "#ffffcc"]];
  const DELTA_STEPS = [[5, "#1a9641"], [1, "#a6d96a"], [-1, "#f7f7f7"], [-5, "#fdae61"], [-Infinity, "#d7191c"]];

  const state = {
    procedure: null, mode: "straight", threshold: C.targets.straight, changes: [], name: S.scenario_default_name,
    tool: "inspect", colorBy: "share", base: null, scen: null, sites: null, selected: null,
    sort: { key: "name", dir: 1 }, filter: "", seq: 0, placeSeq: 0,
  };

  // ------------------------------------------------------------------ formatting
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));
  }
  function fillNodes(template, values) {
    // Like fill, but a value may be a DOM node (a figure in bold inside the sentence).
    return template.split(/(\{\w+\})/).filter(Boolean).map((part) => {
      const m = /^\{(\w+)\}$/.exec(part);
      return m && m[1] in values ? values[m[1]] : part;
    });
  }
  function num(x, digits) {
    if (x === null || x === undefined || Number.isNaN(x)) return "–";
    return Number(x).toLocaleString(LOCALE, { minimumFractionDigits: digits || 0, maximumFractionDigits: digits || 0 });
  }
  const pct = (x) => (x === null || x === undefined ? "–" : num(x * 100, 1) + " %");
  // Changes in percentage points: two decimals, a small gain must not read as 0.
  const pts = (x) => (x === null || x === undefined ? "–" : (x > 0 ? "+" : x < 0 ? "−" : "") + num(Math.abs(x) * 100, 2));
  const unitOf = (mode) => (mode === "straight" ? "m" : "min");
  const unitWord = (mode) => (mode === "straight" ? S.unit_m : S.unit_min);
  function reach(mode, t) {
    if (mode === "straight") {
      return fill(S.reach_straight, { value: t >= 1000 ? num(t / 1000, t % 1000 ? 1 : 0) + " km" : num(t) + " m" });
    }
    return fill(S["reach_" + mode], { value: num(t, t % 1 ? 1 : 0) });
  }
  function fold(text) {
    return String(text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d").replace(/Đ/g, "D")
      .toLowerCase();
  }
  function basisText(row) {
    const b = row.cost_basis;
    if (b === "network") return S.basis_network;
    if (b === "mixed") return fill(S.basis_mixed, { share: pct(row.network_share) });
    if (b === "straight_line") return S.basis_straight_line;
    return S.basis_circuity;
  }
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined) node.setAttribute(k, v);
    });
    children.flat(Infinity).forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(String(c))));
    return node;
  }

  // ------------------------------------------------------------------ messages and the API
  class ApiError extends Error {
    constructor(problem, status) { super(problem.detail || problem.title || String(status)); this.problem = problem; }
  }
  function showMessage(text, info) {
    const box = $("pl-message");
    box.textContent = text;
    box.classList.toggle("pl-info", !!info);
    box.hidden = !text;
  }
  function problemText(err, context) {
    const p = (err && err.problem) || {};
    const type = String(p.type || "");
    const list = Array.isArray(p.problems) ? p.problems : [];
    const file = !!(context && context.file);
    if (type.endsWith("outside-service-area") && !file && context && context.lat !== undefined) {
      return fill(S.outside, { lat: num(context.lat, 5), lon: num(context.lon, 5) });
    }
    if (type.endsWith("unknown-procedure")) return fill(S.bad_procedure, { query: (context && context.query) || "" });
    if ((type.endsWith("data-validation") || type.endsWith("outside-service-area")) && list.length) {
      const unknown = list.map((line) => /no place with id '([^']+)'/.exec(line)).filter(Boolean);
      if (unknown.length === list.length) {
        return unknown.map((m) => fill(S.unknown_site, { id: m[1] })).join("\n");
      }
      const head = context && context.file ? fill(S.file_problems, { count: list.length })
        : fill(S.problems, { count: list.length });
      return head + "\n" + list.map((line) => "• " + line).join("\n");
    }
    if (Array.isArray(p.errors) && p.errors.length) {
      return fill(S.error, { detail: p.errors.map((e) => (e.loc || []).join(".") + ": " + e.msg).join("; ") });
    }
    return fill(S.error, { detail: (err && err.message) || "?" });
  }
  async function api(method, url, body) {
    const init = { method, headers: { Accept: "application/json" } };
    if (body !== undefined) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
    const response = await fetch(url, init);
    if (!response.ok) {
      let problem = {};
      try { problem = await response.json(); } catch (e) { problem = { detail: response.statusText }; }
      throw new ApiError(problem, response.status);
    }
    return response;
  }
  function busy(on) {
    document.body.dataset.busy = on ? "1" : "0";
    $("pl-apply").disabled = on;
  }

  // ------------------------------------------------------------------ the map
  const map = L.map("pl-map", { zoomControl: true, preferCanvas: false }).setView([21.03, 105.85], 10);
  if (C.tiles && C.tiles.url) L.tileLayer(C.tiles.url, { attribution: C.tiles.attribution, maxZoom: 19 }).addTo(map);
  L.control.scale({ imperial: false }).addTo(map);
  const communeLayer = L.geoJSON(null, { style: styleOf, onEachFeature: bindCommune }).addTo(map);
  const placeLayer = L.layerGroup().addTo(map);
  const siteLayer = L.layerGroup().addTo(map);
  const layersByCode = {};

  const info = L.control({ position: "topright" });
  info.onAdd = () => { const d = L.DomUtil.create("div", "pl-info-box"); d.id = "pl-info"; L.DomEvent.disableClickPropagation(d); return d; };
  info.addTo(map);
  const legend = L.control({ position: "bottomleft" });
  legend.onAdd = () => { const d = L.DomUtil.create("div", "pl-legend"); d.id = "pl-legend"; return d; };
  legend.addTo(map);

  function rowsByCode() {
    const out = {};
    (state.base ? state.base.communes : []).forEach((r) => { out[r.code] = { base: r, scen: null }; });
    (state.scen ? state.scen.communes : []).forEach((r) => { if (out[r.code]) out[r.code].scen = r; });
    return out;
  }
  function colorValue(entry) {
    if (!entry) return null;
    if (state.colorBy === "delta_before") return entry.base.delta_share === null ? null : entry.base.delta_share * 100;
    if (state.colorBy === "delta_scenario") return entry.scen ? entry.scen.delta_share * 100 : 0;
    return (entry.scen || entry.base).share * 100;
  }
  function colorOf(value) {
    const steps = state.colorBy === "share" ? SHARE_STEPS : DELTA_STEPS;
    if (value === null) return "#cccccc";
    for (const [limit, color] of steps) if (value >= limit) return color;
    return steps[steps.length - 1][1];
  }
  let entries = {};
  function styleOf(feature) {
    const code = feature.id || feature.properties.code;
    const selected = code === state.selected;
    return {
      color: selected ? "#000" : "#555", weight: selected ? 3 : 0.6, fillOpacity: 0.65,
      fillColor: colorOf(colorValue(entries[code])),
    };
  }
  function bindCommune(feature, layer) {
    const code = feature.id || feature.properties.code;
    layersByCode[code] = layer;
    layer.on("click", (e) => {
      L.DomEvent.stopPropagation(e);
      if (state.tool === "add") addPlace(e.latlng);
      else if (state.tool === "inspect") select(code, false);
    });
  }
  map.on("click", (e) => { if (state.tool === "add") addPlace(e.latlng); });

  function renderLegend() {
    const box = $("pl-legend");
    const share = state.colorBy === "share";
    const steps = share ? SHARE_STEPS : DELTA_STEPS;
    const labels = share ? ["≥ 80", "60–80", "40–60", "20–40", "< 20"] : ["≥ +5", "+1…+5", "−1…+1", "−5…−1", "< −5"];
    box.replaceChildren(el("b", {}, share ? S.legend_share : S.legend_delta),
      ...steps.map(([, color], i) => el("span", { class: "pl-key" }, el("i", { style: "background:" + color }), labels[i])));
  }
  function renderInfo() {
    const box = $("pl-info");
    const entry = entries[state.selected];
    if (!entry) { box.replaceChildren(el("span", { class: "pl-hint" }, S.info_hint)); return; }
    const b = entry.base, now = entry.scen || b, unit = " " + unitWord(state.mode);
    const pairs = [
      [S.detail_population, num(b.population)],
      [S.detail_share, pct(b.share)],
      [S.detail_share_before, pct(b.share_before)],
    ];
    if (entry.scen) pairs.push([S.detail_share_scenario, pct(entry.scen.share)]);
    pairs.push([S.detail_mean, num(now.mean_cost, 1) + unit], [S.detail_p90, num(now.p90_cost, 1) + unit],
      [S.detail_served_by, now.served_by_name || "–"], [S.detail_basis, basisText(now)]);
    box.replaceChildren(el("h3", {}, b.full_name || b.name),
      el("dl", {}, pairs.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])));
    box.dataset.code = state.selected;
  }
  function select(code, zoom) {
    state.selected = code;
    communeLayer.setStyle(styleOf);
    const layer = layersByCode[code];
    if (layer) { layer.bringToFront(); if (zoom) map.fitBounds(layer.getBounds(), { maxZoom: 14 }); }
    renderInfo();
    document.querySelectorAll("#pl-table tbody tr").forEach((tr) => tr.classList.toggle("pl-selected", tr.dataset.code === code));
  }

  // ------------------------------------------------------------------ places and the scenario
  function placeIcon(kind) {
    const size = kind === "pl-suggested" ? 14 : 12;
    return L.divIcon({ className: "", html: `<div class="pl-place ${kind}" style="width:${size}px;height:${size}px"></div>`,
      iconSize: [size, size], iconAnchor: [size / 2, size / 2] });
  }
  function renderPlaces() {
    placeLayer.clearLayers();
    if (!state.base) return;
    const now = (state.scen || state.base).places;
    const present = new Set(now.map((p) => p.id));
    const closed = state.base.places.filter((p) => !present.has(p.id));
    const kinds = { registry: "", "scenario:add": "pl-added", "scenario:move": "pl-moved" };
    const word = { registry: S.place_today, "scenario:add": S.place_added, "scenario:move": S.place_moved };
    now.forEach((p) => {
      const marker = L.marker([p.lat, p.lon], { icon: placeIcon(kinds[p.source] || ""), draggable: true, title: p.name,
        keyboard: false, riseOnHover: true });
      marker.bindTooltip(fill(S.place_served, { name: p.name, people: num(p.served_population) }) +
        " (" + (word[p.source] || S.place_today) + ")");
      marker.on("click", (e) => {
        L.DomEvent.stopPropagation(e);
        if (state.tool === "close") addChanges([{ action: "close", id: p.id, lon: null, lat: null, kind: null, name: p.name }]);
        else if (state.tool === "add") addPlace(e.latlng);
      });
      marker.on("dragend", () => {
        const at = marker.getLatLng();
        addChanges([{ action: "move", id: p.id, lon: round6(at.lng), lat: round6(at.lat), kind: null, name: p.name }]);
      });
      marker.getElement && marker.on("add", () => { const n = marker.getElement(); if (n) n.dataset.place = p.id; });
      placeLayer.addLayer(marker);
    });
    closed.forEach((p) => {
      placeLayer.addLayer(L.marker([p.lat, p.lon], { icon: placeIcon("pl-closed"), interactive: true, keyboard: false })
        .bindTooltip(p.name + " (" + S.place_closed + ")"));
    });
  }
  const round6 = (x) => Math.round(x * 1e6) / 1e6;
  function newId() {
    const taken = new Set([...(state.base ? state.base.places : []).map((p) => p.id), ...state.changes.map((c) => c.id)]);
    let id;
    do { state.placeSeq += 1; id = "new-" + state.placeSeq; } while (taken.has(id));
    return id;
  }
  function addPlace(latlng) {
    const id = newId();
    addChanges([{ action: "add", id, lon: round6(latlng.lng), lat: round6(latlng.lat), kind: "intake_point",
      name: fill(S.new_place, { n: state.placeSeq }) }]);
  }
  function addChanges(list) {
    const before = state.changes.slice();
    state.changes = state.changes.concat(list);
    const last = list[list.length - 1];
    refresh({ revert: before, context: { lat: last.lat, lon: last.lon } });
  }
  function renderChanges() {
    const word = { add: S.change_add, move: S.change_move, close: S.change_close };
    $("pl-changes").replaceChildren(...state.changes.map((c) => el("li", { "data-action": c.action, "data-id": c.id },
      fill(word[c.action], { name: c.name || c.id }))));
    $("pl-changes-empty").hidden = state.changes.length > 0;
    document.body.dataset.changes = String(state.changes.length);
  }

  // ------------------------------------------------------------------ headline and table
  function renderHeadline() {
    const box = $("pl-headline");
    const b = state.base;
    if (!b) { box.replaceChildren(); return; }
    const t = b.totals;
    const parts = [
      el("div", { class: "pl-big" }, ...fillNodes(S.headline, { reach: reach(b.mode, b.threshold), share: el("b", { id: "pl-share" }, pct(t.share)) })),
      el("div", { class: "pl-sub" }, fill(S.headline_people, { covered: num(t.covered_population), population: num(t.population), places: num(t.places) })),
    ];
    if (t.before) {
      parts.push(el("div", { class: "pl-sub", id: "pl-before" }, fill(S.before_line, { places: num(t.before.places), share: pct(t.before.share), change: pts(t.delta_share) })));
    }
    if (state.scen) {
      const st = state.scen.totals;
      parts.push(el("div", { class: "pl-sub", id: "pl-scenario" }, el("b", {}, fill(S.scenario_line, {
        name: state.name || S.scenario_default_name, places: num(st.places), share: pct(st.share), change: pts(st.delta_share) }))));
    }
    const now = state.scen || b;
    const modelled = now.totals.modelled_share;
    parts.push(el("div", { class: "pl-honest", id: "pl-honest" },
      b.mode === "straight" || !modelled ? S.modelled_none : fill(S.modelled, { share: pct(modelled) }), " ",
      (now.model.sentence || {})[C.lang] || ""));
    box.replaceChildren(...parts);
    box.dataset.share = String(t.share);
    box.dataset.scenarioShare = state.scen ? String(state.scen.totals.share) : "";
    box.dataset.covered = String(t.covered_population);
    box.dataset.scenarioCovered = state.scen ? String(state.scen.totals.covered_population) : "";
    box.dataset.modelledShare = String(modelled);
  }
  const COLUMNS = () => {
    const u = unitWord(state.mode);
    const cols = [
      ["name", S.col_commune, "l"], ["population", S.col_population], ["share_before", S.col_share_before],
      ["share", S.col_share], ["delta", S.col_change],
    ];
    if (state.scen) cols.push(["scenario", S.col_scenario], ["delta_scenario", S.col_scenario_change]);
    cols.push(["mean", fill(S.col_mean, { unit: u })], ["p90", fill(S.col_p90, { unit: u })],
      ["served", S.col_served_by, "l"], ["basis", S.col_cost_basis, "l"]);
    return cols;
  };
  function tableRows() {
    return Object.entries(entries).map(([code, e]) => {
      const now = e.scen || e.base;
      return { code, name: e.base.full_name || e.base.name, population: e.base.population, share_before: e.base.share_before,
        share: e.base.share, delta: e.base.delta_share, scenario: e.scen ? e.scen.share : null,
        delta_scenario: e.scen ? e.scen.delta_share : null, mean: now.mean_cost, p90: now.p90_cost,
        served: now.served_by_name || "", basis: basisText(now) };
    });
  }
  function renderTable() {
    const cols = COLUMNS();
    const head = $("pl-table").querySelector("thead tr");
    head.replaceChildren(...cols.map(([key, label, cls]) => el("th", {
      class: cls || "", "data-key": key, scope: "col",
      "aria-sort": state.sort.key === key ? (state.sort.dir > 0 ? "ascending" : "descending") : null,
      onclick: () => { state.sort = { key, dir: state.sort.key === key ? -state.sort.dir : 1 }; renderTable(); },
    }, label)));
    const want = fold(state.filter);
    const rows = tableRows().filter((r) => !want || fold(r.name).includes(want));
    const k = state.sort.key, d = state.sort.dir;
    rows.sort((a, b) => {
      const x = a[k], y = b[k];
      if (typeof x === "string" || typeof y === "string") return d * String(x).localeCompare(String(y), LOCALE);
      return d * ((x === null ? -Infinity : x) - (y === null ? -Infinity : y));
    });
    const cell = (key, r) => {
      const v = r[key];
      if (["share_before", "share", "scenario"].includes(key)) return el("td", {}, v === null ? "–" : num(v * 100, 1));
      if (key === "delta" || key === "delta_scenario") {
        return el("td", { class: v < 0 ? "pl-neg" : v > 0 ? "pl-pos" : "" }, pts(v));
      }
      if (key === "population") return el("td", {}, num(v));
      if (key === "mean" || key === "p90") return el("td", {}, num(v, 1));
      return el("td", { class: "l" }, v);
    };
    $("pl-table").querySelector("tbody").replaceChildren(...rows.map((r) => el("tr", {
      "data-code": r.code, class: r.code === state.selected ? "pl-selected" : "",
      onclick: () => { select(r.code, true); if (window.innerWidth < 760) $("pl-map").scrollIntoView({ behavior: "smooth" }); },
    }, cols.map(([key]) => cell(key, r)))));
    $("pl-table").dataset.rows = String(rows.length);
  }
  function renderNotes() {
    const notes = (state.scen || state.base || {}).notes || [];
    $("pl-notes").textContent = notes.length ? S.notes + ": " + notes.join(" · ") : "";
  }

  // ------------------------------------------------------------------ computing
  function checkThreshold(mode, value) {
    const [low, high] = C.ranges[unitOf(mode)];
    if (!Number.isFinite(value) || value < low || value > high) {
      return fill(S.bad_threshold, { low: num(low, low % 1 ? 1 : 0), high: num(high), unit: unitWord(mode) });
    }
    return null;
  }
  function query() {
    return { procedure: state.procedure.code, mode: state.mode, threshold: state.threshold };
  }
  function syncAddress() {
    const q = new URLSearchParams({ procedure: state.procedure ? state.procedure.code : "", mode: state.mode, threshold: String(state.threshold) });
    const other = new URLSearchParams(q);
    if (C.lang === "en") { q.set("lang", "en"); } else { other.set("lang", "en"); }
    history.replaceState(null, "", "/planner?" + q);
    $("pl-lang").href = "/planner?" + other;
    $("pl-json").href = C.api.coverage + "?" + new URLSearchParams({ ...query(), compare: "before_after" });
    document.querySelectorAll(".pl-presets button").forEach((b) => b.setAttribute("aria-pressed",
      String(b.dataset.mode === state.mode && Number(b.dataset.threshold) === state.threshold)));
  }
  async function refresh(opts) {
    const options = opts || {};
    const bad = checkThreshold(state.mode, state.threshold);
    if (bad) { showMessage(bad); document.body.dataset.ready = "1"; return; }
    if (!state.procedure) return;
    const seq = ++state.seq;
    busy(true);
    try {
      const params = new URLSearchParams({ ...query(), compare: "before_after" });
      const base = await (await api("GET", C.api.coverage + "?" + params)).json();
      let scen = null;
      if (state.changes.length) {
        scen = await (await api("POST", C.api.coverage, { ...query(), changes: state.changes, name: state.name })).json();
      }
      if (seq !== state.seq) return;
      state.base = base; state.scen = scen;
      if (!options.keepMessage) showMessage("");
    } catch (err) {
      if (seq !== state.seq) return;
      if (options.revert) state.changes = options.revert;
      showMessage(problemText(err, { ...(options.context || {}), query: state.procedure && state.procedure.code }));
    } finally {
      if (seq === state.seq) busy(false);
    }
    render();
    document.body.dataset.ready = "1";
  }
  function render() {
    entries = rowsByCode();
    $("pl-mode-" + state.mode).checked = true;
    $("pl-threshold").value = String(state.threshold);
    $("pl-threshold-label").textContent = fill(S.threshold, { unit: unitWord(state.mode) });
    $("pl-suggest").textContent = fill(S.sites_button, { k: $("pl-k").value || 5 });
    communeLayer.setStyle(styleOf);
    renderLegend(); renderInfo(); renderPlaces(); renderChanges(); renderHeadline(); renderTable(); renderNotes();
    syncAddress();
  }

  // ------------------------------------------------------------------ siting
  async function suggest() {
    const k = Number($("pl-k").value);
    if (!Number.isInteger(k) || k < 1 || k > C.max_sites) { showMessage(fill(S.error, { detail: "k = 1…" + C.max_sites })); return; }
    const button = $("pl-suggest");
    button.disabled = true;
    $("pl-sites-summary").textContent = S.sites_running;
    document.body.dataset.sites = "busy";
    try {
      const body = await (await api("POST", C.api.sites, { ...query(), k, changes: state.changes })).json();
      state.sites = body;
      renderSites();
      document.body.dataset.sites = String(body.sites.length);
    } catch (err) {
      $("pl-sites-summary").textContent = "";
      showMessage(problemText(err, {}));
      document.body.dataset.sites = "error";
    } finally {
      button.disabled = false;
    }
  }
  function acceptSite(site) {
    return { action: "add", id: site.id, lon: site.lon, lat: site.lat, kind: "intake_point", name: site.name };
  }
  function renderSites() {
    const r = state.sites;
    siteLayer.clearLayers();
    if (!r) return;
    const inScenario = new Set(state.changes.map((c) => c.id));
    $("pl-sites-summary").textContent = r.sites.length
      ? fill(S.sites_summary, { k: r.sites.length, before: pct(r.share_before), after: pct(r.share_after) }) : S.sites_none;
    $("pl-sites").replaceChildren(...r.sites.map((s) => el("li", { "data-id": s.id },
      fill(S.sites_row, { commune: s.commune_name || s.name, gain: num(s.gain_population), share: pct(s.share) }),
      el("button", { type: "button", class: "pl-btn", disabled: inScenario.has(s.id) ? "" : null,
        onclick: () => addChanges([acceptSite(s)]) }, S.sites_accept))));
    $("pl-accept-all").hidden = !r.sites.some((s) => !inScenario.has(s.id));
    r.sites.forEach((s) => siteLayer.addLayer(L.marker([s.lat, s.lon], { icon: placeIcon("pl-suggested"), keyboard: false })
      .bindTooltip("#" + s.rank + " " + s.name + ": +" + num(s.gain_population))));
  }

  // ------------------------------------------------------------------ files
  function download(blob, filename) {
    const url = URL.createObjectURL(blob);
    const a = el("a", { href: url, download: filename });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }
  function slug(text) {
    return fold(text).replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "scenario";
  }
  const FIELDS = ["action", "id", "lon", "lat", "kind", "name"];
  function csvCell(v) {
    const s = v === null || v === undefined ? "" : String(v);
    return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  function saveJson() {
    const body = { name: state.name, ...query(), changes: state.changes.map((c) => Object.fromEntries(FIELDS.map((f) => [f, c[f] ?? null]))) };
    download(new Blob([JSON.stringify(body, null, 2)], { type: "application/json" }), slug(state.name) + ".json");
  }
  function saveCsv() {
    const lines = [FIELDS.join(",")].concat(state.changes.map((c) => FIELDS.map((f) => csvCell(c[f])).join(",")));
    download(new Blob(["\ufeff" + lines.join("\n") + "\n"], { type: "text/csv" }), slug(state.name) + ".csv");
  }
  async function load(file) {
    const text = await file.text();
    try {
      const body = await (await api("POST", C.api.read, { filename: file.name, text })).json();
      const before = state.changes;
      state.changes = body.changes;
      state.name = body.name || file.name.replace(/\.[^.]+$/, "");
      $("pl-scenario-name").value = state.name;
      showMessage(fill(S.loaded, { count: body.changes.length, file: file.name }), true);
      await refresh({ revert: before, keepMessage: true, context: { file: file.name } });
    } catch (err) {
      showMessage(problemText(err, { file: file.name }));
    }
  }
  async function exportAs(format) {
    const button = $("pl-export-" + format);
    button.disabled = true;
    try {
      const response = await api("POST", C.api.export, { ...query(), changes: state.changes, name: state.name, format });
      const disposition = response.headers.get("Content-Disposition") || "";
      const name = (/filename="([^"]+)"/.exec(disposition) || [])[1] || "coverage." + format;
      download(await response.blob(), name);
      document.body.dataset.exported = format;
    } catch (err) {
      showMessage(problemText(err, {}));
    } finally {
      button.disabled = false;
    }
  }

  // ------------------------------------------------------------------ procedure search
  let searchTimer = null;
  async function search(text) {
    const list = $("pl-procedure-options");
    const q = new URLSearchParams({ q: text, limit: "30" });
    try {
      const found = await (await api("GET", C.api.procedures + "?" + q)).json();
      if ($("pl-procedure").value !== text) return;
      list.replaceChildren(...(found.length ? found.map((p) => el("li", {
        role: "option", "data-code": p.code, onclick: () => choose(p),
      }, p.name, " ", el("small", {}, p.code + (p.handled_in_person_here ? "" : " · " + (p.place === "unknown" ? S.procedure_place_unknown : S.procedure_not_in_person))))) : [el("li", {}, S.procedure_none)]));
      list.dataset.query = text;
      list.hidden = false;
      $("pl-procedure").setAttribute("aria-expanded", "true");
    } catch (err) {
      showMessage(problemText(err, {}));
    }
  }
  function choose(p) {
    state.procedure = { code: p.code, name: p.name };
    $("pl-procedure").value = "";
    $("pl-procedure-options").hidden = true;
    $("pl-procedure").setAttribute("aria-expanded", "false");
    $("pl-procedure-chosen").textContent = p.code + " — " + p.name;
    $("pl-procedure-chosen").dataset.code = p.code;
    state.sites = null; renderSites(); $("pl-sites").replaceChildren(); $("pl-sites-summary").textContent = "";
    refresh();
  }

  // ------------------------------------------------------------------ wiring
  function setTool(tool) {
    state.tool = tool;
    document.querySelectorAll(".pl-tools button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.tool === tool)));
    document.body.classList.remove("pl-tool-inspect", "pl-tool-add", "pl-tool-close");
    document.body.classList.add("pl-tool-" + tool);
  }
  function parseNumber(text) {
    const t = String(text).trim().replace(/\s/g, "").replace(",", ".");
    return t === "" || !/^[+-]?(\d+\.?\d*|\.\d+)$/.test(t) ? NaN : Number(t);
  }
  function wire() {
    $("pl-form").addEventListener("submit", (e) => { e.preventDefault(); state.threshold = parseNumber($("pl-threshold").value); refresh(); });
    document.querySelectorAll("input[name=mode]").forEach((r) => r.addEventListener("change", () => {
      state.mode = r.value; state.threshold = C.targets[r.value]; refresh();
    }));
    document.querySelectorAll(".pl-presets button").forEach((b) => b.addEventListener("click", () => {
      state.mode = b.dataset.mode; state.threshold = Number(b.dataset.threshold); refresh();
    }));
    document.querySelectorAll(".pl-tools button").forEach((b) => b.addEventListener("click", () => setTool(b.dataset.tool)));
    $("pl-color").addEventListener("change", (e) => { state.colorBy = e.target.value; communeLayer.setStyle(styleOf); renderLegend(); });
    $("pl-undo").addEventListener("click", () => { if (state.changes.length) { state.changes = state.changes.slice(0, -1); refresh(); } });
    $("pl-clear").addEventListener("click", () => { if (state.changes.length) { state.changes = []; refresh(); } });
    $("pl-scenario-name").addEventListener("input", (e) => { state.name = e.target.value; renderHeadline(); });
    $("pl-save-json").addEventListener("click", saveJson);
    $("pl-save-csv").addEventListener("click", saveCsv);
    $("pl-load").addEventListener("change", (e) => { const f = e.target.files[0]; if (f) load(f); e.target.value = ""; });
    $("pl-suggest").addEventListener("click", suggest);
    $("pl-k").addEventListener("input", () => { $("pl-suggest").textContent = fill(S.sites_button, { k: $("pl-k").value || "?" }); });
    $("pl-accept-all").addEventListener("click", () => {
      const have = new Set(state.changes.map((c) => c.id));
      const todo = (state.sites ? state.sites.sites : []).filter((s) => !have.has(s.id)).map(acceptSite);
      if (todo.length) addChanges(todo);
    });
    document.querySelectorAll("[id^=pl-export-]").forEach((b) => b.addEventListener("click", () => exportAs(b.dataset.format)));
    $("pl-filter").addEventListener("input", (e) => { state.filter = e.target.value; renderTable(); });
    $("pl-procedure").addEventListener("input", (e) => {
      clearTimeout(searchTimer);
      const text = e.target.value;
      if (!text.trim()) { $("pl-procedure-options").hidden = true; return; }
      searchTimer = setTimeout(() => search(text), 150);
    });
    document.addEventListener("click", (e) => { if (!e.target.closest(".pl-combo")) $("pl-procedure-options").hidden = true; });
  }

  async function start() {
    wire();
    setTool("inspect");
    const params = new URLSearchParams(location.search);
    const mode = params.get("mode");
    state.mode = C.modes.includes(mode) ? mode : "straight";
    state.threshold = params.has("threshold") ? parseNumber(params.get("threshold")) : C.targets[state.mode];
    $("pl-suggest").textContent = fill(S.sites_button, { k: 5 });
    try {
      const geo = await (await api("GET", C.api.communes)).json();
      communeLayer.addData(geo);
      map.fitBounds(communeLayer.getBounds());
      document.body.dataset.communes = String(geo.features.length);
    } catch (err) {
      showMessage(problemText(err, {}));
    }
    const wanted = params.get("procedure") || C.default_procedure;
    try {
      const found = await (await api("GET", C.api.procedures + "?" + new URLSearchParams({ q: wanted, limit: "1" }))).json();
      if (!found.length) throw new ApiError({ type: "/problems/unknown-procedure" }, 404);
      state.procedure = { code: found[0].code, name: found[0].name };
      $("pl-procedure-chosen").textContent = found[0].code + " — " + found[0].name;
      $("pl-procedure-chosen").dataset.code = found[0].code;
    } catch (err) {
      showMessage(problemText(err, { query: wanted }));
      document.body.dataset.ready = "1";
      return;
    }
    $("pl-mode-" + state.mode).checked = true;
    $("pl-threshold").value = Number.isFinite(state.threshold) ? String(state.threshold) : params.get("threshold");
    await refresh();
  }
  window.gandanPlanner = { map, state, refresh };
  start();
})();
