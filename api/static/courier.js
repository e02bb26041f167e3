// The courier page. Without JavaScript every form posts and the server answers with the page at
// the stop acted on (#stop-N). With it:
// - Offline capture: each stop's event form becomes a custody event kept in localStorage until
//   the server has it; events are sent in order with the event_id made when the page was drawn,
//   which the server uses as the idempotency key, so a resend after a lost reply is recorded
//   once. An event with a photo goes as a form (the server hashes the photo) when online.
// - In place: after an action only the stops that changed are redrawn (the page is fetched and
//   each stop's data-v compared), the scroll position and the open forms are kept.
// - Offline copy: a service worker (/courier/sw.js) keeps the page to reload without network.
(function () {
  "use strict";
  var KEY = "postal.courier.outbox";
  var box = document.getElementById("outbox");
  var offlineNote = document.getElementById("offline-note");
  var sending = false;
  var photoWaiting = [];

  function load() {
    try { return JSON.parse(localStorage.getItem(KEY) || "[]"); } catch (e) { return []; }
  }
  function save(list) { localStorage.setItem(KEY, JSON.stringify(list)); }

  function show(extra) {
    var n = load().length;
    if (!box) return;
    box.hidden = n === 0 && !extra;
    box.textContent = (n ? box.dataset.label + ": " + n : "") + (extra ? " " + extra : "");
    box.dataset.pending = String(n);
  }

  function showOnline() {
    if (offlineNote) offlineNote.hidden = navigator.onLine !== false;
  }

  function unique(list) {
    var seen = {};
    return list.filter(function (x) { if (!x || seen[x]) return false; seen[x] = true; return true; });
  }

  function isoNow() {
    var d = new Date();
    var off = -d.getTimezoneOffset();
    var pad = function (x) { return String(Math.floor(Math.abs(x))).padStart(2, "0"); };
    var local = new Date(d.getTime() + off * 60000).toISOString().slice(0, 19);
    return local + (off >= 0 ? "+" : "-") + pad(off / 60) + ":" + pad(off % 60);
  }

  function formToEvent(form) {
    var f = new FormData(form);
    var g = function (k) { var v = f.get(k); return typeof v === "string" ? v.trim() : ""; };
    var ev = { event_id: g("event_id"), type: g("type"), item_number: g("item_number"),
               device_time: isoNow() };
    if (ev.type === "pickup") {
      var positions = [];
      f.forEach(function (_v, k) {
        var m = /^doc_(\d+)_form$/.exec(k);
        if (m) positions.push(m[1]);
      });
      ev.checklist = positions.map(function (p) {
        return { position: Number(p), present: f.get("doc_" + p + "_present") === "on",
                 form: g("doc_" + p + "_form") || null };
      });
      if (g("seal_number")) ev.seal = { number: g("seal_number") };
      if (Number(g("fee_vnd")) > 0) {
        ev.fees = { postal_fee_vnd: Number(g("fee_vnd")), receipt_number: g("receipt_number") || null };
      }
    }
    if (ev.type === "pickup" || ev.type === "deliver") {
      // A signature travels as its strokes: the server computes the hash it stores.
      ev.acknowledgement = g("signature_strokes")
        ? { method: "signature", signature_strokes: JSON.parse(g("signature_strokes")) }
        : { method: "otp", otp_code: g("otp_code") };
    }
    if (ev.type === "deliver") {
      ev.recipient = g("recipient") === "proxy"
        ? { proxy_name: g("proxy_name") || null, proxy_id_number: g("proxy_id_number") || null,
            authorisation_ref: g("authorisation_ref") || null }
        : { id_number: g("id_number") || null };
    }
    if (ev.type === "attempt_failed") {
      ev.reason = g("reason") || "other";
      ev.note = g("note") || null;
    }
    return ev;
  }

  function note(form, text, cls) {
    var p = form.querySelector(".queued-note") || document.createElement("p");
    p.className = "queued-note " + cls;
    p.setAttribute("role", cls === "error" ? "alert" : "status");
    p.textContent = text;
    form.appendChild(p);
    // A refused event wrote nothing: let the courier correct the form and send it again.
    if (cls === "error") {
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = false; });
    }
  }

  function mark(eventId, text, cls) {
    document.querySelectorAll("form[data-event]").forEach(function (form) {
      if (form.elements.event_id && form.elements.event_id.value === eventId) note(form, text, cls);
    });
  }

  function stopOf(el) { var li = el && el.closest ? el.closest("li.stop") : null; return li ? li.id : null; }

  // --- in-place update ------------------------------------------------------------------
  function pageUrl() { return window.location.pathname + window.location.search; }
  // The service worker's key of this page's offline copy (courier-sw.js pageKey).
  function pageKey() {
    var date = new URLSearchParams(window.location.search).get("date");
    return window.location.origin + "/courier" + (date ? "?date=" + date : "");
  }

  function apply(html, url, actedId) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var acted = actedId ? document.getElementById(actedId) : null;
    var before = acted ? acted.getBoundingClientRect().top : null;
    var focusLost = false;
    var oldProgress = document.getElementById("progress");
    var newProgress = doc.getElementById("progress");
    if (oldProgress && newProgress) oldProgress.replaceWith(document.importNode(newProgress, true));
    doc.querySelectorAll("ol.stops > li.stop").forEach(function (fresh) {
      var old = document.getElementById(fresh.id);
      if (!old) return;
      if (old.dataset.v === fresh.dataset.v) {
        if (fresh.id === actedId) {
          // Nothing changed but the outcome: show it, keep what the courier typed.
          old.querySelectorAll(".stop-error, .stop > .success").forEach(function (n) { n.remove(); });
          var msg = fresh.querySelector(".stop-error") || fresh.querySelector(":scope > .success");
          if (msg) {
            var anchor = old.querySelector(":scope > details") || null;
            old.insertBefore(document.importNode(msg, true), anchor);
          }
        }
        return;
      }
      var open = {};
      old.querySelectorAll("details[open]").forEach(function (d) { if (d.id) open[d.id] = true; });
      if (old.contains(document.activeElement)) focusLost = true;
      var node = document.importNode(fresh, true);
      node.querySelectorAll("details").forEach(function (d) { if (open[d.id]) d.open = true; });
      old.replaceWith(node);
      bind(node);
      document.dispatchEvent(new CustomEvent("postal:fragment", { detail: node }));
    });
    var top = doc.querySelector("main > .alert, main > .success");
    document.querySelectorAll("main > .alert, main > .success").forEach(function (n) { n.remove(); });
    if (top && box) box.after(document.importNode(top, true));
    var now = actedId ? document.getElementById(actedId) : null;
    if (now && before !== null) {
      // Keep the stop where it was on the screen; when its form is gone and the stop now ends
      // above the screen (or under the sticky progress bar), bring the stop itself into view.
      window.scrollBy(0, now.getBoundingClientRect().top - before);
      var bar = document.getElementById("progress");
      var under = bar ? bar.getBoundingClientRect().bottom : 0;
      if (now.getBoundingClientRect().bottom < under + 48) now.scrollIntoView({ block: "start" });
    }
    if (now && focusLost) now.focus({ preventScroll: true });
    if (url) {
      var u = new URL(url, window.location.href);
      if (u.pathname === "/courier") window.history.replaceState(null, "", u.pathname + u.search);
    }
  }

  function refresh(actedId) {
    return fetch(pageUrl(), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.text().then(function (t) { return [r, t]; }); })
      .then(function (rt) {
        if (rt[0].ok && !rt[0].redirected) apply(rt[1], null, actedId);
      })
      .catch(function () { /* offline: the page stays as it is */ });
  }

  function post(form) {
    var actedId = stopOf(form);
    form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    return fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(function (r) { return r.text().then(function (t) { return [r, t]; }); })
      .then(function (rt) {
        var r = rt[0];
        if (r.redirected && new URL(r.url).pathname !== "/courier") {
          window.location.href = r.url;  // signed out: to the sign-in page
          return;
        }
        apply(rt[1], r.ok ? r.url : null, actedId);
        form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = false; });
      })
      .catch(function () {
        form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = false; });
        throw new Error("offline");
      });
  }

  // --- the outbox -------------------------------------------------------------------------
  function flush() {
    var list = load();
    if (sending || !list.length || navigator.onLine === false) { show(); return Promise.resolve(); }
    sending = true;
    return fetch("/api/v1/events", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept-Language": document.documentElement.lang },
      body: JSON.stringify({ events: list })
    }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (data) {
      var done = {}, recorded = 0, problems = [];
      data.results.forEach(function (res) {
        done[res.event_id] = true;
        if (res.status === "rejected") {
          var why = unique([res.detail].concat((res.errors || []).map(function (e) { return e.message; })));
          problems.push(res.item_number + ": " + why.join(" — "));
          mark(res.event_id, box.dataset.rejected + ": " + why.join(" — "), "error");
        } else {
          recorded += 1;
          mark(res.event_id, box.dataset.sent, "ok");
        }
      });
      // Keep what the reply did not cover (events queued while this request was in flight).
      save(load().filter(function (ev) { return !done[ev.event_id]; }));
      sending = false;
      show(problems.join("; "));
      if (recorded) return refresh(lastActed);
    }).catch(function () { sending = false; show(); });
  }

  function sendPhotoForms() {
    var waiting = photoWaiting;
    photoWaiting = [];
    waiting.forEach(function (form) {
      if (!document.body.contains(form)) return;
      post(form).catch(function () { photoWaiting.push(form); });
    });
  }

  var lastActed = null;

  // --- binding (the whole page, then each redrawn stop) ------------------------------------
  function bindCanvas(canvas) {
    var wrap = canvas.parentNode;
    if (!(window.crypto && crypto.subtle)) return;
    wrap.hidden = false;
    var ctx = canvas.getContext("2d");
    var down = false;
    var strokes = [];
    var field = wrap.querySelector("input[name=signature_strokes]");
    // Integer canvas pixels inside the canvas: the server hashes exactly these numbers.
    var clamp = function (v, max) { return Math.min(max, Math.max(0, Math.round(v))); };
    var at = function (e) {
      var r = canvas.getBoundingClientRect();
      return [clamp((e.clientX - r.left) * canvas.width / r.width, canvas.width),
              clamp((e.clientY - r.top) * canvas.height / r.height, canvas.height)];
    };
    canvas.addEventListener("pointerdown", function (e) {
      down = true; var p = at(e); ctx.beginPath(); ctx.moveTo(p[0], p[1]); strokes.push([p]);
    });
    canvas.addEventListener("pointermove", function (e) {
      if (!down) return;
      var p = at(e); ctx.lineTo(p[0], p[1]); ctx.stroke(); canvas.dataset.signed = "1";
      strokes[strokes.length - 1].push(p);
      if (field) field.value = JSON.stringify(strokes);
    });
    window.addEventListener("pointerup", function () { down = false; });
  }

  function hasPhoto(form) {
    var input = form.querySelector("input[type=file][name=photo]");
    return !!(input && input.files && input.files.length);
  }

  function bind(root) {
    root.querySelectorAll("form[data-event] canvas.signature").forEach(bindCanvas);
    root.querySelectorAll("form[data-event]").forEach(function (form) {
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        lastActed = stopOf(form);
        if (hasPhoto(form)) {
          if (navigator.onLine === false) {
            photoWaiting.push(form);
            note(form, box.dataset.photoOffline, "pending");
            return;
          }
          post(form).catch(function () {
            photoWaiting.push(form);
            note(form, box.dataset.photoOffline, "pending");
          });
          return;
        }
        var ev = formToEvent(form);
        var list = load().filter(function (x) { return x.event_id !== ev.event_id; });
        list.push(ev);
        save(list);
        form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
        mark(ev.event_id, box.dataset.label, "pending");
        show();
        flush();
      });
    });
    root.querySelectorAll("form[data-inplace], li.stop form[data-sign]").forEach(function (form) {
      form.addEventListener("submit", function (e) {
        if (navigator.onLine === false) return;  // the browser says why it cannot post
        e.preventDefault();
        post(form).catch(function () { form.submit(); });
      });
    });
  }

  // --- the service worker: an offline copy of the page --------------------------------------
  function registerWorker() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.register("/courier/sw.js", { scope: "/courier" }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function () {
      // The first visit was drawn before the worker ran: keep this page for an offline reload.
      if (navigator.onLine !== false && window.caches && navigator.serviceWorker.controller === null) {
        return fetch(pageUrl(), { credentials: "same-origin" }).then(function (r) {
          if (r.ok && !r.redirected) {
            var copy = r.clone();
            return caches.open("courier-pages-v1").then(function (c) {
              return Promise.all([c.put(pageKey(), r), c.put(window.location.origin + "/courier", copy)]);
            });
          }
        });
      }
    }).catch(function () { /* no offline copy: the page still works online */ });
  }

  // Signing out: forget the offline copy (it holds citizens' names and phones).
  var signOut = document.querySelector("form[action='/staff/logout']");
  if (signOut && window.caches) {
    signOut.addEventListener("submit", function () { caches.delete("courier-pages-v1"); });
  }

  bind(document);
  window.addEventListener("online", function () { showOnline(); flush(); sendPhotoForms(); });
  window.addEventListener("offline", showOnline);
  window.setInterval(flush, 10000);
  showOnline();
  show();
  flush();
  registerWorker();
})();
