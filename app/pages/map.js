/*
 * gandan citizen map: procedure search, starting point (GPS or a tap), nearest offices from the API.
 *
 * The page is a folium map; app/routes/pages.py calls gandanMap.start() with the Leaflet map, three
 * empty layers (communes, points, results) and a config (texts, API addresses). Every answer comes
 * from the API; this script only asks and draws. No build step: plain ES2017 for any phone browser.
 */
(function () {
  "use strict";

  var TZ = "Asia/Ho_Chi_Minh";
  var COLORS = { open: "#3d8b1c", closed: "#c9362a", unknown: "#6f6f6f" };
  var MARKER_COLORS = { open: "green", closed: "red", unknown: "gray" };
  var STATES = ["open", "closed", "unknown"];
  // Popups keep clear of the layer switch (top right) and fit a phone's half-screen map.
  var POPUP = { maxWidth: 260, autoPanPaddingTopLeft: [10, 64], autoPanPaddingBottomRight: [10, 10] };
  // Office dots take taps only once a starting point is set and the map is zoomed in this far. Before
  // that, some fifty dots cover central Hanoi at the opening view and would swallow the tap the hint
  // asks for ("tap the map to choose a starting point"); the offices' details are in the result list.
  var POINT_DETAIL_ZOOM = 14;
  // The browser's geolocation errors (English, and not the user's words) by code, as texts of strings.toml.
  var LOCATE_REASONS = { 1: "locate_denied", 2: "locate_unavailable", 3: "locate_timeout" };

  var app = {
    map: null,
    layers: null,
    config: null,
    procedure: null,
    origin: null,
    originMarker: null,
    pointsById: {},
    options: [],
    active: -1,
    searchTimer: null,
    searchSeq: 0,
    queryController: null,
    routeAttribution: false,
    result: null,
    resultMarkers: {},
    now: null, // the time the API answered for ("at"), so "today" means the day of the answer
  };

  // ------------------------------------------------------------------------------------ helpers
  function $(id) {
    return document.getElementById(id);
  }

  function t(key, vars) {
    var text = app.config.strings[key];
    if (text === undefined) {
      text = key;
    }
    if (vars) {
      Object.keys(vars).forEach(function (name) {
        text = text.split("{" + name + "}").join(vars[name]);
      });
    }
    return text;
  }

  function esc(value) {
    return String(value === null || value === undefined ? "" : value)
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&#39;");
  }

  function stateOf(props) {
    return STATES.indexOf(props.state) >= 0 ? props.state : "unknown";
  }

  function params() {
    return new URLSearchParams(window.location.search);
  }

  function locale() {
    return app.config.lang === "vi" ? "vi-VN" : "en-GB";
  }

  function hanoiDate(date) {
    return new Intl.DateTimeFormat("en-CA", { timeZone: TZ }).format(date);
  }

  function setNow(iso) {
    var date = iso ? new Date(iso) : null;
    app.now = date && !isNaN(date.getTime()) ? date : null;
  }

  // "08:00" on the day of the answer, "Thứ Hai 08:00" (weekday) within a week, with the date beyond.
  function formatWhen(iso) {
    if (!iso) {
      return "";
    }
    var date = new Date(iso);
    if (isNaN(date.getTime())) {
      return iso;
    }
    var time = new Intl.DateTimeFormat(locale(), {
      timeZone: TZ,
      hour: "2-digit",
      minute: "2-digit",
      hour12: false,
    }).format(date);
    var now = app.now || new Date();
    if (hanoiDate(date) === hanoiDate(now)) {
      return time;
    }
    var days = (date.getTime() - now.getTime()) / 86400000;
    var dayOptions = days < 6 ? { timeZone: TZ, weekday: "long" } : { timeZone: TZ, weekday: "long", day: "numeric", month: "numeric" };
    return new Intl.DateTimeFormat(locale(), dayOptions).format(date) + " " + time;
  }

  function formatDistance(metres) {
    if (metres === null || metres === undefined) {
      return "";
    }
    if (metres < 1000) {
      return Math.round(metres / 10) * 10 + " m";
    }
    var km = metres / 1000;
    return (km < 10 ? km.toFixed(1) : Math.round(km)).toString().replace(".", app.config.lang === "vi" ? "," : ".") + " km";
  }

  // Today's hours arrive as data (geo.hours.DayHours, the `today` property): spans, holiday, make-up day.
  // They are written here in the page's language; a name comes in English when the calendar has one.
  function spanText(span, unsure) {
    return span.opens + "–" + span.closes + (unsure ? " (" + t("hours_unsure") + ")" : "");
  }

  function formatDay(day) {
    if (!day || day.unknown) {
      return t("hours_unknown");
    }
    var english = app.config.lang !== "vi";
    var holiday = english ? day.holiday_en || day.holiday : day.holiday;
    var spans = (day.spans || []).map(function (span) {
      return { at: span.opens, text: spanText(span, false) };
    });
    (day.unsure_spans || []).forEach(function (span) {
      spans.push({ at: span.opens, text: spanText(span, true) });
    });
    if (!spans.length) {
      return holiday ? t("hours_holiday", { name: holiday }) : t("hours_closed_day");
    }
    spans.sort(function (a, b) {
      return a.at < b.at ? -1 : a.at > b.at ? 1 : 0;
    });
    var text = spans
      .map(function (span) {
        return span.text;
      })
      .join(", ");
    if (day.make_up_working_day) {
      var reason = english ? day.make_up_reason_en : day.make_up_reason;
      return text + " (" + (reason || t("hours_makeup")) + ")";
    }
    return holiday ? text + " (" + t("hours_on_holiday", { name: holiday }) + ")" : text;
  }

  // A text of the API in the page's language: {code, text, text_en} (text in Vietnamese), or a plain
  // string (from an API that does not give both languages yet).
  function localText(value) {
    if (value === null || value === undefined || typeof value !== "object") {
      return value === null || value === undefined ? "" : String(value);
    }
    var text = app.config.lang === "vi" ? value.text : value.text_en || value.text;
    return text || value.code || "";
  }

  // What to show for a failed request: the page's own text, never the browser's ("Failed to fetch").
  function errorText(error) {
    return error.status ? error.message : t("error_network");
  }

  function setStatus(text, isError) {
    var box = $("gandan-status");
    box.textContent = text || "";
    box.classList.toggle("gandan-error", Boolean(isError));
  }

  function problemText(status, body) {
    var type = body && body.type ? String(body.type) : "";
    if (type.indexOf("outside-service-area") >= 0) {
      return t("error_outside");
    }
    if (type.indexOf("unknown-procedure") >= 0) {
      return t("error_unknown_procedure");
    }
    if (type.indexOf("index-not-built") >= 0 && app.mode() !== "straight") {
      return t("error_no_network");
    }
    // The API's explanation: shown when it comes in both languages ({text, text_en}), or on the English
    // page (a plain string is English); otherwise the page's own words with the status.
    var detail = body ? body.detail || body.title : null;
    if (detail && (typeof detail === "object" || app.config.lang !== "vi")) {
      return t("error", { detail: localText(detail) });
    }
    return t("error_status", { status: status });
  }

  function getJSON(url, signal) {
    return fetch(url, { headers: { Accept: "application/json, application/geo+json" }, signal: signal }).then(
      function (response) {
        return response
          .json()
          .catch(function () {
            return null;
          })
          .then(function (body) {
            if (!response.ok) {
              var error = new Error(problemText(response.status, body));
              error.status = response.status;
              throw error;
            }
            return body;
          });
      }
    );
  }

  function query(base, values) {
    var search = new URLSearchParams();
    Object.keys(values).forEach(function (key) {
      if (values[key] !== null && values[key] !== undefined && values[key] !== "") {
        search.set(key, values[key]);
      }
    });
    return base + "?" + search.toString();
  }

  // ------------------------------------------------------------------------------------- popups
  function precisionText(props) {
    var precision = props.location_precision === "exact" ? t("precision_exact") : t("precision_approximate");
    var method = props.location_method ? app.config.strings["method_" + props.location_method] : null;
    return method ? precision + " (" + method + ")" : precision;
  }

  function stateLine(props) {
    var state = stateOf(props);
    var text = t("state_" + state);
    if (state === "open" && props.closes_at) {
      text += " · " + t("closes_at", { time: formatWhen(props.closes_at) });
    } else if (state !== "open" && props.opens_at) {
      text += " · " + t("opens_at", { time: formatWhen(props.opens_at) });
    }
    return '<span class="gandan-state gandan-state-' + state + '">' + esc(text) + "</span>";
  }

  function todayLine(props) {
    var known = app.pointsById[props.id];
    var today = props.today || (known && known.today);
    var text = today ? formatDay(today) : t("hours_unknown"); // not props.hours: OSM syntax, in English
    var line = t("today") + ": " + text;
    if (props.hours_source === "assumed") {
      line += " (" + t("hours_assumed") + ")";
    }
    return esc(line);
  }

  function travelLine(props) {
    var parts = [];
    if (props.distance_m !== null && props.distance_m !== undefined) {
      var basis = props.cost_basis === "network" ? t("by_road") : t("straight_line");
      parts.push(t("distance") + " " + formatDistance(props.distance_m) + " (" + basis + ")");
    }
    if (props.travel_time_s !== null && props.travel_time_s !== undefined && app.result) {
      var mode = app.result.query ? app.result.query.mode : app.mode();
      parts.push(t("travel_time", { minutes: Math.max(1, Math.round(props.travel_time_s / 60)), mode: t("mode_word_" + mode) }));
    }
    return esc(parts.join(" · "));
  }

  function popupHtml(props) {
    var lines = ['<div class="gandan-popup">', '<div class="gandan-name">' + esc(props.name) + "</div>"];
    lines.push("<div>" + stateLine(props) + "</div>");
    if (props.state_reason && props.change_ids && props.change_ids.length) {
      // A staff change's reason, in the staff's words (holiday names are already in the day's line).
      lines.push('<div class="gandan-reason">' + esc(props.state_reason) + "</div>");
    }
    (props.notices || []).forEach(function (notice) {
      lines.push('<div class="gandan-notice">' + esc(notice.text) + "</div>"); // staff notices (geo.changes)
    });
    lines.push("<div>" + todayLine(props) + "</div>");
    if (props.distance_m !== undefined) {
      lines.push("<div>" + travelLine(props) + "</div>");
    }
    lines.push("<div>" + esc(t("address") + ": " + props.address) + "</div>");
    lines.push('<div class="gandan-muted">' + esc(precisionText(props)) + "</div>");
    lines.push("</div>");
    return lines.join("");
  }

  // ------------------------------------------------------------------------------------- layers
  function loadCommunes() {
    return getJSON(app.config.api.communes)
      .then(function (collection) {
        L.geoJSON(collection, {
          interactive: false,
          style: function () {
            return { color: "#3f51b5", weight: 1, opacity: 0.55, fillColor: "#3f51b5", fillOpacity: 0.04, className: "gandan-commune" };
          },
        }).addTo(app.layers.communes);
        app.layers.communes.bringToBack();
        document.body.dataset.communes = String(collection.features.length);
      })
      .catch(function (error) {
        setStatus(errorText(error), true);
      });
  }

  function loadPoints() {
    var url = query(app.config.api.points, { procedure: app.procedure ? app.procedure.code : null, at: params().get("at") });
    return getJSON(url)
      .then(function (collection) {
        if (!app.result) {
          setNow(collection.at);
        }
        app.layers.points.clearLayers();
        app.pointsById = {};
        collection.features.forEach(function (feature) {
          var props = feature.properties;
          var c = feature.geometry.coordinates;
          var state = stateOf(props);
          app.pointsById[props.id] = props;
          L.circleMarker([c[1], c[0]], {
            radius: 5,
            weight: 1.5,
            color: "#fff",
            fillColor: COLORS[state],
            fillOpacity: 0.9,
            className: "gandan-point gandan-point-" + state,
          })
            .bindPopup(popupHtml(props), POPUP)
            .addTo(app.layers.points);
        });
        document.body.dataset.points = String(collection.features.length);
        if (app.result) {
          renderResults(app.result); // today's hours of the results come from this layer
        }
      })
      .catch(function (error) {
        setStatus(errorText(error), true);
      });
  }

  // ---------------------------------------------------------------------------- procedure picker
  function showOptions(items, emptyText, text) {
    var list = $("gandan-procedure-options");
    var input = $("gandan-procedure");
    app.options = items;
    app.active = -1;
    list.innerHTML = "";
    list.dataset.query = text === undefined ? "" : text;
    if (!items.length && !emptyText) {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      return;
    }
    if (!items.length) {
      var empty = document.createElement("li");
      empty.className = "list-group-item gandan-muted";
      empty.textContent = emptyText;
      list.appendChild(empty);
    }
    items.forEach(function (item, i) {
      var li = document.createElement("li");
      li.className = "list-group-item list-group-item-action";
      li.id = "gandan-option-" + i;
      li.setAttribute("role", "option");
      li.dataset.code = item.code;
      li.innerHTML = esc(item.name) + "<small>" + esc(t("procedure_code") + " " + item.code + (item.field ? " · " + item.field : "")) + "</small>";
      // mousedown, not click: it fires before the input loses focus and closes the list.
      li.addEventListener("mousedown", function (event) {
        event.preventDefault();
        chooseProcedure(item);
      });
      list.appendChild(li);
    });
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  function highlight(index) {
    var list = $("gandan-procedure-options");
    var items = list.querySelectorAll("[role=option]");
    if (!items.length) {
      return;
    }
    app.active = (index + items.length) % items.length;
    items.forEach(function (li, i) {
      li.classList.toggle("active", i === app.active);
      li.setAttribute("aria-selected", i === app.active ? "true" : "false");
    });
    $("gandan-procedure").setAttribute("aria-activedescendant", items[app.active].id);
    items[app.active].scrollIntoView({ block: "nearest" });
  }

  function searchProcedures(text) {
    var seq = ++app.searchSeq;
    var url = query(app.config.api.procedures, { q: text.trim(), limit: 8 });
    getJSON(url)
      .then(function (items) {
        if (seq === app.searchSeq) {
          showOptions(items, t("procedure_none"), text);
        }
      })
      .catch(function (error) {
        if (seq === app.searchSeq) {
          setStatus(errorText(error), true);
        }
      });
  }

  function procedureSummaryHtml(item) {
    // What to bring, how long, the fee and the online option (the API's `summary`), online first;
    // for a procedure no office handles, who does and the portal link. Texts from strings.toml.
    var summary = item.summary;
    if (!summary) {
      return "";
    }
    var html = "";
    var portal = summary.portal_url
      ? '<a href="' + esc(summary.portal_url) + '" target="_blank" rel="noopener">' +
        esc(t(summary.online ? "summary_online" : "summary_portal")) + "</a>"
      : "";
    if (item.handled_in_person_here === false && item.agency) {
      // A procedure whose place rule does not know where it is handled: the catalogue's agency, not a verdict.
      var by = item.place === "unknown" ? "summary_catalogue_agency" : "summary_handled_by";
      html += "<div>" + esc(t(by, { agency: item.agency })) + "</div>";
    }
    if (portal && summary.online) {
      html += "<div><strong>" + portal + "</strong></div>";
    }
    if (summary.documents && summary.documents.length) {
      var more = summary.documents_total - summary.documents.length;
      html += "<div>" + esc(t("summary_bring")) + ": " + esc(summary.documents.join("; ")) +
        (more > 0 ? esc(" " + t("summary_more", { n: more })) : "") + "</div>";
    }
    if (summary.channel) {
      var notStated = t("summary_not_stated");
      var time = summary.time && summary.time !== "not stated" ? summary.time : notStated;
      var fee = summary.fee && summary.fee !== "not stated" ? summary.fee : notStated;
      html += '<div class="gandan-muted">' + esc(t("summary_time")) + ": " + esc(time) + " · " +
        esc(t("summary_fee")) + ": " + esc(fee) + "</div>";
    } else if (!summary.details) {
      html += '<div class="gandan-muted">' + esc(t("summary_no_details")) + "</div>";
    }
    if (portal && !summary.online) {
      html += "<div>" + portal + "</div>";
    }
    return '<div class="gandan-procedure-summary">' + html + "</div>";
  }

  function chooseProcedure(item) {
    // A search still pending for what was typed must not reopen the list over the choice.
    clearTimeout(app.searchTimer);
    app.searchSeq += 1;
    app.procedure = item;
    $("gandan-procedure").value = item.name;
    showOptions([]);
    var chosen = $("gandan-procedure-chosen");
    var html = "<div><strong>" + esc(item.name) + "</strong></div>";
    html += '<div class="gandan-muted">' + esc(t("procedure_code") + " " + item.code + (item.level ? " · " + item.level : "")) + "</div>";
    if (item.handled_in_person_here === false) {
      var notHere = item.place === "unknown" ? "procedure_place_unknown" : "procedure_not_in_person";
      html += '<div class="gandan-warn">' + esc(t(notHere)) + "</div>";
    } else if (item.boundary_free === "yes" || item.boundary_free === "pilot") {
      html += "<div>" + esc(t("procedure_boundary_free")) + "</div>";
    }
    html += procedureSummaryHtml(item);
    chosen.innerHTML = html;
    chosen.hidden = false;
    loadPoints();
    runQuery();
  }

  function bindPicker() {
    var input = $("gandan-procedure");
    input.addEventListener("input", function () {
      clearTimeout(app.searchTimer);
      app.searchTimer = setTimeout(function () {
        searchProcedures(input.value);
      }, 200);
    });
    input.addEventListener("focus", function () {
      if (!app.procedure || input.value !== app.procedure.name) {
        searchProcedures(input.value);
      }
    });
    input.addEventListener("blur", function () {
      setTimeout(function () {
        showOptions([]);
      }, 150);
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown") {
        event.preventDefault();
        highlight(app.active + 1);
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        highlight(app.active - 1);
      } else if (event.key === "Enter") {
        event.preventDefault();
        var pick = app.options[app.active >= 0 ? app.active : 0];
        if (pick) {
          chooseProcedure(pick);
        }
      } else if (event.key === "Escape") {
        showOptions([]);
      }
    });
    $("gandan-form").addEventListener("submit", function (event) {
      event.preventDefault();
    });
  }

  // ------------------------------------------------------------------------------ origin, query
  app.mode = function () {
    var checked = document.querySelector("input[name=mode]:checked");
    return checked ? checked.value : "straight";
  };

  function setOrigin(lat, lon) {
    app.origin = { lat: Number(lat.toFixed(6)), lon: Number(lon.toFixed(6)) };
    var latlng = [app.origin.lat, app.origin.lon];
    if (!app.originMarker) {
      app.originMarker = L.circleMarker(latlng, {
        radius: 8,
        weight: 3,
        color: "#fff",
        fillColor: "#1a73e8",
        fillOpacity: 1,
        className: "gandan-origin",
      })
        .bindTooltip(t("your_place"))
        .addTo(app.map);
    } else {
      app.originMarker.setLatLng(latlng);
    }
    updatePointTaps();
    runQuery();
  }

  // Office dots open their popup only with a starting point set and zoomed in (POINT_DETAIL_ZOOM);
  // a passive dot lets the tap through to the map, which sets the starting point there.
  function updatePointTaps() {
    var tappable = Boolean(app.origin) && app.map.getZoom() >= POINT_DETAIL_ZOOM;
    app.map.getContainer().classList.toggle("gandan-points-passive", !tappable);
    document.body.dataset.pointTaps = tappable ? "popup" : "origin"; // for the browser tests
  }

  function clearResults() {
    app.layers.results.clearLayers();
    app.resultMarkers = {};
    $("gandan-results").innerHTML = "";
    $("gandan-results-heading").hidden = true;
    $("gandan-notes").hidden = true;
    setRouteAttribution(false);
  }

  function setRouteAttribution(show) {
    var control = app.map.attributionControl;
    if (!control || show === app.routeAttribution) {
      return;
    }
    if (show) {
      control.addAttribution(t("route_attribution"));
    } else {
      control.removeAttribution(t("route_attribution"));
    }
    app.routeAttribution = show;
  }

  function syncAddress() {
    var search = params();
    search.delete("procedure");
    search.delete("lat");
    search.delete("lon");
    search.delete("mode");
    if (app.procedure) {
      search.set("procedure", app.procedure.code);
    }
    if (app.origin) {
      search.set("lat", String(app.origin.lat));
      search.set("lon", String(app.origin.lon));
    }
    if (app.mode() !== "straight") {
      search.set("mode", app.mode());
    }
    var text = search.toString();
    window.history.replaceState(null, "", window.location.pathname + (text ? "?" + text : ""));
    // The language switch opens the same view in the other language.
    var other = app.config.lang === "vi" ? "en" : "vi";
    if (other === "vi") {
      search.delete("lang");
    } else {
      search.set("lang", other);
    }
    text = search.toString();
    $("gandan-lang").href = window.location.pathname + (text ? "?" + text : "");
  }

  function runQuery() {
    syncAddress();
    if (!app.procedure) {
      setStatus(t("pick_procedure_first"));
      return;
    }
    if (!app.origin) {
      setStatus(t("pick_place"));
      return;
    }
    if (app.queryController) {
      app.queryController.abort();
    }
    var controller = "AbortController" in window ? new AbortController() : null;
    app.queryController = controller;
    var mode = app.mode();
    var url = query(app.config.api.nearest, {
      lat: app.origin.lat,
      lon: app.origin.lon,
      procedure: app.procedure.code,
      k: app.config.k,
      mode: mode,
      open_only: $("gandan-open-only").checked ? "true" : null,
      route: mode === "straight" ? null : "true",
      at: params().get("at"),
    });
    setStatus(t("loading"));
    document.body.dataset.busy = "1";
    getJSON(url, controller ? controller.signal : undefined)
      .then(function (collection) {
        if (controller !== app.queryController) {
          return;
        }
        app.result = collection;
        setNow(collection.query && collection.query.at);
        renderResults(collection);
        var commune = collection.query && collection.query.commune;
        setStatus(commune && commune.name ? t("origin_in", { commune: commune.name }) : "");
        if (window.matchMedia("(max-width: 767.98px)").matches) {
          // Phone: the list is below the map; bring it into view.
          $("gandan-status").scrollIntoView({ block: "start", behavior: "smooth" });
        }
        return fitResults(collection);
      })
      .catch(function (error) {
        if (error.name === "AbortError") {
          return;
        }
        app.result = null;
        clearResults();
        setStatus(errorText(error), true);
      })
      .then(function () {
        if (controller === app.queryController) {
          delete document.body.dataset.busy;
        }
      });
  }

  function featureParts(feature) {
    var geometry = feature.geometry;
    var point = null;
    var lines = [];
    var parts = geometry.type === "GeometryCollection" ? geometry.geometries : [geometry];
    parts.forEach(function (part) {
      if (part.type === "Point") {
        point = [part.coordinates[1], part.coordinates[0]];
      } else if (part.type === "LineString") {
        lines.push(
          part.coordinates.map(function (c) {
            return [c[1], c[0]];
          })
        );
      }
    });
    return { point: point, lines: lines };
  }

  function renderResults(collection) {
    clearResults();
    var list = $("gandan-results");
    var features = collection.features || [];
    var hasRoute = false;
    $("gandan-results-heading").hidden = false;
    if (!features.length) {
      var empty = document.createElement("li");
      empty.className = "gandan-muted";
      empty.textContent = t("no_results");
      list.appendChild(empty);
    }
    features.forEach(function (feature) {
      var props = feature.properties;
      var state = stateOf(props);
      var parts = featureParts(feature);
      parts.lines.forEach(function (line) {
        hasRoute = true;
        L.polyline(line, { color: COLORS[state], weight: 5, opacity: 0.8, className: "gandan-route" }).addTo(app.layers.results);
      });
      if (!parts.lines.length && app.origin && parts.point) {
        // Straight-line answer: a thin dashed ray says "as the crow flies".
        L.polyline([[app.origin.lat, app.origin.lon], parts.point], {
          color: COLORS[state],
          weight: 2,
          opacity: 0.7,
          dashArray: "4 6",
          interactive: false,
          className: "gandan-ray",
        }).addTo(app.layers.results);
      }
      if (!parts.point) {
        return;
      }
      var marker = L.marker(parts.point, {
        icon: L.AwesomeMarkers.icon({ icon: String(props.rank), prefix: "fa", markerColor: MARKER_COLORS[state], iconColor: "white" }),
        title: props.name,
        riseOnHover: true,
        zIndexOffset: 1000 - props.rank,
      })
        .bindPopup(popupHtml(props), POPUP)
        .addTo(app.layers.results);
      app.resultMarkers[props.id] = marker;

      var li = document.createElement("li");
      li.className = "gandan-result";
      li.tabIndex = 0;
      li.dataset.id = props.id;
      li.dataset.state = state;
      li.innerHTML =
        '<span class="gandan-rank gandan-bg-' + state + '">' + esc(props.rank) + "</span>" +
        '<div class="gandan-result-body">' +
        '<div class="gandan-name">' + esc(props.name) + "</div>" +
        "<div>" + stateLine(props) + "</div>" +
        "<div>" + travelLine(props) + "</div>" +
        '<div class="gandan-muted">' + todayLine(props) + "</div>" +
        '<div class="gandan-muted">' + esc(props.address) + " · " + esc(precisionText(props)) + "</div>" +
        "</div>";
      var open = function () {
        // Without animation, so the popup pans itself fully into view on a small map.
        app.map.setView(parts.point, Math.max(app.map.getZoom(), 15), { animate: false });
        marker.openPopup();
      };
      li.addEventListener("click", open);
      li.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          open();
        }
      });
      list.appendChild(li);
    });
    setRouteAttribution(hasRoute || Boolean(collection.attribution));
    var notes = collection.notes || [];
    if (notes.length) {
      var box = $("gandan-notes");
      // Each note is a sentence ({code, text, text_en}: the page's language picks the text; a string as is).
      box.textContent = t("notes") + ": " + notes.map(localText).join(" ");
      box.hidden = false;
    }
    document.body.dataset.results = String(features.length);
  }

  function fitResults(collection) {
    var bounds = L.latLngBounds([]);
    if (app.origin) {
      bounds.extend([app.origin.lat, app.origin.lon]);
    }
    (collection.features || []).forEach(function (feature) {
      var parts = featureParts(feature);
      if (parts.point) {
        bounds.extend(parts.point);
      }
      parts.lines.forEach(function (line) {
        line.forEach(function (latlng) {
          bounds.extend(latlng);
        });
      });
    });
    if (!bounds.isValid()) {
      return Promise.resolve();
    }
    // Resolves when the map has settled (the busy flag stays up until then).
    return new Promise(function (resolve) {
      var timer = setTimeout(resolve, 1500);
      app.map.once("moveend", function () {
        clearTimeout(timer);
        resolve();
      });
      // Leaflet drops a zoom asked for while another zoom animates: jump instead of animating then.
      var animate = !app.map._animatingZoom;
      app.map.fitBounds(bounds, { padding: [30, 30], maxZoom: 16, animate: animate });
    });
  }

  function locate() {
    if (!("geolocation" in navigator)) {
      setStatus(t("locate_unsupported"), true);
      return;
    }
    setStatus(t("locating"));
    navigator.geolocation.getCurrentPosition(
      function (position) {
        setOrigin(position.coords.latitude, position.coords.longitude);
      },
      function (error) {
        setStatus(t("locate_failed", { reason: t(LOCATE_REASONS[error.code] || "locate_unavailable") }), true);
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
    );
  }

  // ---------------------------------------------------------------------------------- start-up
  // Leaflet's own controls carry English titles and labels: the page's language replaces them.
  function localizeControls() {
    var container = app.map.getContainer();
    var label = function (selector, key) {
      container.querySelectorAll(selector).forEach(function (element) {
        element.title = t(key);
        element.setAttribute("aria-label", t(key));
      });
    };
    label(".leaflet-control-zoom-in", "zoom_in");
    label(".leaflet-control-zoom-out", "zoom_out");
    label(".leaflet-control-layers-toggle", "layers");
    var attribution = app.map.attributionControl;
    if (attribution && typeof attribution.options.prefix === "string") {
      attribution.setPrefix(attribution.options.prefix.replace(/title="[^"]*"/, 'title="' + esc(t("leaflet_title")) + '"'));
    }
    app.map.on("popupopen", function (event) {
      var element = event.popup.getElement();
      var close = element && element.querySelector(".leaflet-popup-close-button");
      if (close) {
        close.setAttribute("aria-label", t("close_popup"));
      }
    });
  }

  function restoreFromAddress() {
    var search = params();
    var mode = search.get("mode");
    if (mode && app.config.modes.indexOf(mode) >= 0) {
      var radio = $("gandan-mode-" + mode);
      if (radio) {
        radio.checked = true;
      }
    }
    var lat = parseFloat(search.get("lat"));
    var lon = parseFloat(search.get("lon"));
    var code = search.get("procedure");
    var origin = function () {
      if (isFinite(lat) && isFinite(lon)) {
        setOrigin(lat, lon);
      } else {
        runQuery();
      }
    };
    if (code) {
      getJSON(app.config.api.procedure + encodeURIComponent(code))
        .then(function (item) {
          app.procedure = item;
          chooseProcedure(item);
          if (isFinite(lat) && isFinite(lon)) {
            setOrigin(lat, lon);
          }
        })
        .catch(function (error) {
          setStatus(errorText(error), true);
          origin();
        });
    } else {
      origin();
      loadPoints();
    }
  }

  function start(options) {
    app.map = options.map;
    app.layers = options.layers;
    app.config = options.config;
    // The whole city first, without animation: an answer arriving early must not be lost to it.
    app.map.fitBounds(app.config.bounds, { animate: false });
    L.control.scale({ imperial: false }).addTo(app.map);
    localizeControls();
    updatePointTaps();
    app.map.on("zoomend", updatePointTaps);
    app.map.on("click", function (event) {
      setOrigin(event.latlng.lat, event.latlng.lng);
    });
    document.querySelectorAll("input[name=mode]").forEach(function (radio) {
      radio.addEventListener("change", runQuery);
    });
    $("gandan-open-only").addEventListener("change", runQuery);
    $("gandan-locate").addEventListener("click", locate);
    bindPicker();
    loadCommunes();
    restoreFromAddress();
    window.gandanMap.map = app.map; // for the console and the browser tests
    document.body.dataset.ready = "1";
  }

  window.gandanMap = { start: start, map: null };
})();
