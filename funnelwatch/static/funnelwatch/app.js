/* Funnelwatch's page behaviour, in one static file so that the Content-Security-Policy can
   forbid inline scripts. Each piece looks for its markup and does nothing without it. */
(function () {
  "use strict";

  // Deferred scripts (Chart.js among them, after this one) have all run by DOMContentLoaded.
  function ready(fn) {
    if (document.readyState === "complete") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  ready(function () {
    // <select data-autosubmit>: choosing sends the form (language switch, board moves).
    document.querySelectorAll("[data-autosubmit]").forEach(function (el) {
      el.addEventListener("change", function () { el.form.submit(); });
    });
    // <button data-print>: the browser's print dialog (morning meeting).
    document.querySelectorAll("[data-print]").forEach(function (el) {
      el.addEventListener("click", function () { window.print(); });
    });
    // The phone menu: the button opens and closes the header's menu.
    document.querySelectorAll("[data-menu-toggle]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var header = btn.closest("header");
        var open = header.classList.toggle("open");
        btn.setAttribute("aria-expanded", open ? "true" : "false");
      });
    });
    stackLabels();
    charts();
    player();
  });

  // <table class="stack">: on a phone each row is a card (app.css) whose cells are named
  // by their column's header; a cell that carries its own data-label keeps it.
  function stackLabels() {
    document.querySelectorAll("table.stack").forEach(function (table) {
      if (!table.tHead || !table.tHead.rows.length) return;
      var names = Array.prototype.map.call(table.tHead.rows[0].cells, function (th) {
        return th.textContent.replace(/\s+/g, " ").trim();
      });
      Array.prototype.forEach.call(table.tBodies, function (body) {
        Array.prototype.forEach.call(body.rows, function (row) {
          Array.prototype.forEach.call(row.cells, function (cell, i) {
            if (cell.colSpan === 1 && names[i] && !cell.hasAttribute("data-label")) {
              cell.setAttribute("data-label", names[i]);
            }
          });
        });
      });
    });
  }

  // <canvas data-chart="bar|hbar|series" data-source="json-script-id">
  function charts() {
    if (typeof Chart === "undefined") return;
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var kind = canvas.dataset.chart;
      var source = data(canvas.dataset.source);
      if (!source) return;
      if (kind === "bar" || kind === "hbar") {
        new Chart(canvas, {
          type: "bar",
          data: { labels: source.labels, datasets: [{ data: source.values }] },
          options: {
            indexAxis: kind === "hbar" ? "y" : "x",
            animation: false,
            plugins: { legend: { display: false } },
          },
        });
      }
    });
    // The manager page: two line charts of the metric chosen in <select id="metric">.
    var select = document.getElementById("metric");
    var series = data("series");
    if (!select || !series) return;
    function line(id) {
      return new Chart(document.getElementById(id), {
        type: "line",
        data: { labels: [], datasets: [{ label: "", data: [], spanGaps: true, tension: 0.2 }] },
        options: { animation: false, plugins: { legend: { display: false } } },
      });
    }
    var lines = { days: line("days"), weeks: line("weeks") };
    function draw() {
      var s = series[select.value];
      ["days", "weeks"].forEach(function (k) {
        lines[k].data.labels = s[k].map(function (p) { return p[0]; });
        lines[k].data.datasets[0].data = s[k].map(function (p) { return p[1]; });
        lines[k].data.datasets[0].label = s.label;
        lines[k].update();
      });
    }
    select.addEventListener("change", draw);
    draw();
  }

  // A call's page: clicking a speech bar, a comment mark or a comment's time plays from
  // there; a head follows the playback; "now" pins a comment to the current second.
  function player() {
    var audio = document.getElementById("player");
    if (!audio) return;
    var timeline = document.getElementById("timeline");
    function seek(at) { audio.currentTime = parseFloat(at) || 0; audio.play(); }
    document.querySelectorAll("[data-at]").forEach(function (el) {
      el.addEventListener("click", function (ev) { ev.preventDefault(); seek(el.dataset.at); });
    });
    if (timeline) {
      var head = document.createElement("span");
      head.className = "head";
      var rows = timeline.querySelectorAll(".row");
      var duration = parseFloat(timeline.dataset.duration) || 1;
      audio.addEventListener("timeupdate", function () {
        var left = (100 * audio.currentTime / duration) + "%";
        rows.forEach(function (row) {
          var h = row.querySelector(".head") || row.appendChild(head.cloneNode());
          h.style.left = left;
        });
      });
    }
    document.querySelectorAll(".pin").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var t = Math.floor(audio.currentTime);
        btn.parentNode.querySelector(".comment-at").value =
          Math.floor(t / 60) + ":" + String(t % 60).padStart(2, "0");
      });
    });
  }
})();
