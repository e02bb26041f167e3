// Offline capture for the courier page. Each stop's form becomes a custody event kept in
// localStorage until the server has it; events are sent in order with the event_id made when
// the page was drawn, which the server uses as the idempotency key, so a resend after a lost
// reply is recorded once. Without JavaScript the forms post normally.
(function () {
  "use strict";
  var KEY = "postal.courier.outbox";
  var box = document.getElementById("outbox");
  var sending = false;

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

  function isoNow() {
    var d = new Date();
    var off = -d.getTimezoneOffset();
    var pad = function (x) { return String(Math.floor(Math.abs(x))).padStart(2, "0"); };
    var local = new Date(d.getTime() + off * 60000).toISOString().slice(0, 19);
    return local + (off >= 0 ? "+" : "-") + pad(off / 60) + ":" + pad(off % 60);
  }

  function formToEvent(form) {
    var f = new FormData(form);
    var g = function (k) { return String(f.get(k) || "").trim(); };
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

  function mark(eventId, text, cls) {
    document.querySelectorAll("form[data-event]").forEach(function (form) {
      if (form.elements.event_id && form.elements.event_id.value === eventId) {
        var note = form.querySelector(".queued-note") || document.createElement("p");
        note.className = "queued-note " + cls;
        note.textContent = text;
        form.appendChild(note);
        // A refused event wrote nothing: let the courier correct the form and send it again.
        if (cls === "error") {
          form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = false; });
        }
      }
    });
  }

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
          var why = [res.detail].concat((res.errors || []).map(function (e) { return e.message; }));
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
      if (recorded && !problems.length && !load().length) window.location.reload();
    }).catch(function () { sending = false; show(); });
  }

  document.querySelectorAll("canvas.signature").forEach(function (canvas) {
    var wrap = canvas.parentNode;
    if (!(window.crypto && crypto.subtle)) return;
    wrap.hidden = false;
    var ctx = canvas.getContext("2d");
    var down = false;
    var strokes = [];
    var field = canvas.parentNode.querySelector("input[name=signature_strokes]");
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
  });

  document.querySelectorAll("form[data-event]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
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

  window.addEventListener("online", flush);
  window.setInterval(flush, 10000);
  show();
  flush();
})();
