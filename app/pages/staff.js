// The staff page (/staff): sign in with a token, find a place, correct it, see the audit and undo.
// Everything comes from the API (/v1/staff/...); every text from the server is put in with textContent,
// never as HTML. The token is kept in sessionStorage (this tab only) and sent as a bearer header.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("staff-config").textContent);
  var S = config.strings;
  var TOKEN_KEY = "gandan-staff-token";
  var app = { token: sessionStorage.getItem(TOKEN_KEY), me: null, place: null, marker: null, moved: null };

  function $(id) {
    return document.getElementById(id);
  }

  function t(key, values) {
    var text = S[key] || key;
    Object.keys(values || {}).forEach(function (name) {
      text = text.split("{" + name + "}").join(String(values[name]));
    });
    return text;
  }

  function status(text, isError) {
    var box = $("staff-status");
    box.textContent = text;
    box.className = isError ? "error" : "ok";
  }

  // An invalid field as one line in the page's language: the field's label, then what is wrong. A change's
  // problem comes from the message catalogue (`code`; `message` Vietnamese, `message_en` English); a
  // request the API could not read at all (pydantic) has only an English `message`, so the Vietnamese page
  // says "invalid value" and puts that English beside it.
  function fieldLine(e) {
    var where = String(e.where || "").replace(/^body\./, "");
    var label = S["field_" + where] || where;
    var what;
    if (config.lang === "en") {
      what = e.message_en || e.message;
    } else if (e.code) {
      what = e.message;
    } else {
      what = t("invalid_value") + (e.message ? " (" + e.message + ")" : "");
    }
    return "• " + label + ": " + what;
  }

  // A problem+json answer as plain lines: a heading in the page's language (the API's title is English),
  // then each invalid field (label: what).
  function problemText(body, fallback, httpStatus) {
    if (!body || typeof body !== "object") {
      return fallback;
    }
    var known = { 401: "error_401", 403: "error_403", 422: "error_422", 429: "error_429" };
    var heading = known[httpStatus] ? t(known[httpStatus]) : config.lang === "vi" ? fallback : body.title || fallback;
    var lines = [heading];
    if (Array.isArray(body.errors) && body.errors.length) {
      body.errors.forEach(function (e) {
        lines.push(fieldLine(e));
      });
    } else if (body.detail) {
      lines.push(body.detail);
    }
    return lines.join("\n");
  }

  function api(method, path, body) {
    var headers = { Accept: "application/json" };
    if (app.token) {
      headers.Authorization = "Bearer " + app.token;
    }
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    return fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) })
      .catch(function () {
        throw new Error(t("network_error"));
      })
      .then(function (response) {
        return response
          .json()
          .catch(function () {
            return null;
          })
          .then(function (data) {
            if (!response.ok) {
              var error = new Error(problemText(data, t("error") + " (" + response.status + ")", response.status));
              error.status = response.status;
              throw error;
            }
            return data;
          });
      });
  }

  // ------------------------------------------------------------------------------------- sign-in
  function showSignedIn() {
    var signedIn = !!app.me;
    document.querySelectorAll(".signed-in-only").forEach(function (el) {
      el.hidden = !signedIn;
    });
    document.querySelectorAll(".signed-out-only").forEach(function (el) {
      el.hidden = signedIn;
    });
    $("staff-who").textContent = signedIn ? t("signed_in", { name: app.me.name, role: app.me.role }) : "";
    document.body.dataset.signedIn = signedIn ? "yes" : "no";
  }

  function signIn(token) {
    app.token = token;
    return api("GET", "/v1/staff/me")
      .then(function (me) {
        app.me = me;
        sessionStorage.setItem(TOKEN_KEY, token);
        status("", false);
        showSignedIn();
        loadAudit();
      })
      .catch(function (error) {
        app.token = null;
        app.me = null;
        sessionStorage.removeItem(TOKEN_KEY);
        showSignedIn();
        status(error.message, true);
      });
  }

  $("staff-signin-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var token = $("staff-token").value.trim();
    $("staff-token").value = "";
    if (token) {
      signIn(token);
    }
  });

  $("staff-signout").addEventListener("click", function () {
    sessionStorage.removeItem(TOKEN_KEY);
    app.token = null;
    app.me = null;
    showSignedIn();
  });

  // ------------------------------------------------------------------------------------- map
  var map = L.map("staff-map").setView([21.0285, 105.8542], 12);
  L.tileLayer(config.tile_url, { attribution: config.tile_attribution, maxZoom: 19 }).addTo(map);
  L.Icon.Default.imagePath = "/static/vendor/leaflet/images/";
  var pointsLayer = L.layerGroup().addTo(map);

  function setMoved(latlng) {
    app.moved = { lon: Math.round(latlng.lng * 1e7) / 1e7, lat: Math.round(latlng.lat * 1e7) / 1e7 };
    $("staff-lonlat").value = app.moved.lon + ", " + app.moved.lat;
    document.body.dataset.moved = $("staff-lonlat").value;
  }

  function choose(place) {
    app.place = place;
    app.moved = null;
    $("staff-place-name").textContent = place.name + " (" + place.id + ")";
    $("staff-lonlat").value = place.lon + ", " + place.lat;
    if (app.marker) {
      map.removeLayer(app.marker);
    }
    app.marker = L.marker([place.lat, place.lon], { draggable: true, title: place.name, autoPan: true }).addTo(map);
    app.marker.on("dragend", function () {
      setMoved(app.marker.getLatLng());
    });
    map.setView([place.lat, place.lon], 16);
    document.body.dataset.place = place.id;
  }

  function search() {
    var q = $("staff-search").value.trim();
    api("GET", "/v1/staff/places" + (q ? "?q=" + encodeURIComponent(q) : ""))
      .then(function (places) {
        var list = $("staff-places");
        list.textContent = "";
        pointsLayer.clearLayers();
        if (!places.length) {
          var li = document.createElement("li");
          li.textContent = t("no_places");
          list.appendChild(li);
        }
        places.slice(0, 30).forEach(function (place) {
          var li = document.createElement("li");
          li.textContent = place.name + " — " + place.address;
          li.dataset.id = place.id;
          li.addEventListener("click", function () {
            choose(place);
          });
          list.appendChild(li);
        });
        places.forEach(function (place) {
          L.circleMarker([place.lat, place.lon], { radius: 4, weight: 1, color: "#3f51b5" })
            .on("click", function () {
              choose(place);
            })
            .addTo(pointsLayer);
        });
      })
      .catch(function (error) {
        status(error.message, true);
      });
  }

  var searchTimer = null;
  $("staff-search").addEventListener("input", function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(search, 250);
  });

  // ------------------------------------------------------------------------------------- changes
  // datetime-local gives Hanoi wall time without an offset; the API wants the offset.
  function withOffset(value) {
    return value ? value + ":00+07:00" : null;
  }

  function submit(body) {
    if (!app.me) {
      status(t("need_signin"), true);
      return Promise.resolve();
    }
    if (!app.place) {
      status(t("need_place"), true);
      return Promise.resolve();
    }
    body.place_id = app.place.id;
    status("", false); // the answer of this request, not an older one, is what the page then says
    return api("POST", "/v1/staff/changes", body)
      .then(function (change) {
        status(t("saved", { id: change.id }), false);
        loadAudit();
      })
      .catch(function (error) {
        status(error.message, true);
      });
  }

  $("staff-location-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var point = app.moved || (app.place ? { lon: app.place.lon, lat: app.place.lat } : {});
    submit({
      kind: "location",
      lon: point.lon,
      lat: point.lat,
      precision: $("staff-precision").value,
      method: $("staff-method").value,
      measured: $("staff-measured").value,
      reason: $("staff-location-reason").value,
      confirm_outside_commune: $("staff-confirm-outside").checked,
    });
  });

  $("staff-hours-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var kind = $("staff-hours-kind").value;
    var body = {
      kind: kind,
      starts: withOffset($("staff-starts").value),
      ends: withOffset($("staff-ends").value),
      reason: $("staff-hours-reason").value,
    };
    if (kind === "special_hours") {
      body.hours = $("staff-special").value;
    }
    submit(body);
  });

  $("staff-notice-form").addEventListener("submit", function (event) {
    event.preventDefault();
    submit({ kind: "notice", notice: $("staff-notice-text").value, reason: $("staff-notice-reason").value });
  });

  // ------------------------------------------------------------------------------------- audit
  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    row.appendChild(td);
    return td;
  }

  function loadAudit() {
    if (!app.me) {
      return;
    }
    api("GET", "/v1/staff/audit?limit=50")
      .then(function (entries) {
        var body = document.querySelector("#staff-audit tbody");
        body.textContent = "";
        entries.forEach(function (entry) {
          var row = document.createElement("tr");
          cell(row, entry.at.replace("T", " ").slice(0, 19));
          cell(row, entry.actor);
          cell(row, entry.action + " " + entry.target + (entry.after && entry.after.id ? " (" + entry.after.id + ")" : ""));
          cell(row, entry.reason);
          var actions = cell(row, "");
          var change = entry.after;
          if (change && change.id && change.kind && change.kind !== "undo" && entry.action.indexOf("change.") === 0) {
            var button = document.createElement("button");
            button.type = "button";
            button.textContent = t("undo");
            button.dataset.change = change.id;
            button.addEventListener("click", function () {
              undo(change.id);
            });
            actions.appendChild(button);
          }
          body.appendChild(row);
        });
        document.body.dataset.auditRows = String(entries.length);
      })
      .catch(function (error) {
        status(error.message, true);
      });
  }

  function undo(changeId) {
    status("", false); // the answer of this undo, not the last save's, is what the page then says
    api("POST", "/v1/staff/changes/" + encodeURIComponent(changeId) + "/undo", { reason: $("staff-undo-reason").value })
      .then(function () {
        status(t("undone", { id: changeId }), false);
        loadAudit();
      })
      .catch(function (error) {
        status(error.message, true);
      });
  }

  // ------------------------------------------------------------------------------------- start
  showSignedIn();
  search();
  if (app.token) {
    signIn(app.token);
  }
  document.body.dataset.ready = "yes";
})();
