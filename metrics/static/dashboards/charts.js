/* Charts of the board dashboards, drawn with Chart.js from data the page embeds with json_script.
 * Colours come from the GOV.UK palette. A rating is never told by colour alone: every series has a label
 * in the legend and tooltips, and the amber and red ratings also carry a pattern. The same figures are
 * always in a table on the page, which is all there is without JavaScript. */
(function () {
  "use strict";
  if (typeof Chart === "undefined") { return; }

  var COLOURS = {
    green: "#00703c", amber_green: "#85994b", amber: "#ffdd00", amber_red: "#f47738", red: "#d4351c",
    no_confidence: "#b1b4b6", delivered: "#1d70b8", overdue: "#4c2c92"
  };
  // Not rated is a category of its own, told by a pattern of rings as well as its grey and its legend.
  var PATTERNS = { amber: "dots", amber_red: "stripes", red: "cross", overdue: "stripes", no_confidence: "rings" };

  function pattern(colour, kind) {
    var size = 10, canvas = document.createElement("canvas"), ctx = canvas.getContext("2d");
    canvas.width = size; canvas.height = size;
    ctx.fillStyle = colour; ctx.fillRect(0, 0, size, size);
    ctx.strokeStyle = "#0b0c0c"; ctx.fillStyle = "#0b0c0c"; ctx.lineWidth = 1.5;
    if (kind === "dots") { ctx.beginPath(); ctx.arc(5, 5, 1.6, 0, 2 * Math.PI); ctx.fill(); }
    if (kind === "rings") { ctx.beginPath(); ctx.arc(5, 5, 2.5, 0, 2 * Math.PI); ctx.stroke(); }
    if (kind === "stripes" || kind === "cross") { ctx.beginPath(); ctx.moveTo(0, size); ctx.lineTo(size, 0); ctx.stroke(); }
    if (kind === "cross") { ctx.beginPath(); ctx.moveTo(0, 0); ctx.lineTo(size, size); ctx.stroke(); }
    return ctx.createPattern(canvas, "repeat");
  }

  var DASHES = { green: [], delivered: [], red: [8, 4], overdue: [2, 3] };
  var POINTS = { delivered: "circle", green: "triangle", red: "rectRot", overdue: "crossRot" };

  // A long category name is cut on the axis (the tooltip and the table give it whole), shorter on a phone.
  function shortLabel(axis, value) {
    var label = String(axis.getLabelForValue(value));
    var room = window.innerWidth < 641 ? 16 : 30;
    return label.length > room ? label.slice(0, room - 1) + "\u2026" : label;
  }

  function draw(figure) {
    var source = document.getElementById(figure.getAttribute("data-chart"));
    var canvas = figure.querySelector("canvas");
    if (!source || !canvas) { return; }
    var spec = JSON.parse(source.textContent);
    var line = spec.kind === "line";
    var datasets = spec.series.map(function (series) {
      var colour = COLOURS[series.key] || "#505a5f";
      return {
        label: series.label,
        data: series.data,
        backgroundColor: line ? colour : (PATTERNS[series.key] ? pattern(colour, PATTERNS[series.key]) : colour),
        borderColor: line ? colour : "#0b0c0c",
        borderWidth: line ? 3 : 1,
        borderDash: line ? (DASHES[series.key] || []) : undefined,
        pointStyle: POINTS[series.key] || "circle",
        pointRadius: line ? 4 : undefined,
        tension: 0
      };
    });
    new Chart(canvas, {
      type: line ? "line" : "bar",
      data: { labels: spec.labels, datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        indexAxis: line ? "x" : "y",
        // Counts of commitments: whole numbers only on the count axis, never 0.5 of a commitment.
        scales: line ? { y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "Commitments" } } }
                     : { x: { stacked: true, ticks: { precision: 0 }, title: { display: true, text: "Commitments" } },
                         y: { stacked: true, ticks: { autoSkip: false, callback: function (value) { return shortLabel(this, value); } } } },
        plugins: { legend: { position: "bottom", labels: { usePointStyle: line } } }
      }
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), draw);
}());
