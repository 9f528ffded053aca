// flysim's report: draws the charts described in the page's #flysim-data with uPlot (hover
// for values, drag across a chart to zoom in on time, double-click to zoom out, click a legend
// entry to hide or show its series) and makes tables with the class "sortable" sortable by a
// click on a column's header. Everything the page needs is in the page: nothing is fetched.
(function () {
  "use strict";

  var numbers = new Intl.NumberFormat("en-US", { maximumFractionDigits: 3 });
  var whole = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

  // A number with thousands separators and digits that suit its size.
  function num(v) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    var a = Math.abs(v);
    if (a >= 1000 || Number.isInteger(v)) return whole.format(v);
    if (a >= 100) return v.toFixed(1);
    if (a >= 1) return v.toFixed(2).replace(/\.?0+$/, "");
    if (a === 0) return "0";
    return numbers.format(Number(v.toPrecision(3)));
  }

  // A time span in seconds, in the unit that reads best.
  function span(s) {
    if (s === null || s === undefined || !isFinite(s)) return "–";
    var a = Math.abs(s);
    if (a < 1) return num(s * 1000) + " ms";
    if (a < 120) return num(s) + " s";
    if (a < 7200) return num(s / 60) + " min";
    if (a < 172800) return num(s / 3600) + " h";
    return num(s / 86400) + " d";
  }

  // The unit of a time axis: ticks in whole minutes, hours or days, never raw seconds.
  // Tick steps of a time axis, in seconds: whole seconds, minutes, hours and days.
  var TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
    21600, 43200, 86400, 172800, 604800, 1209600, 2592000];

  function timeUnit(total) {
    if (total > 3 * 86400) return [86400, "d"];
    if (total > 3 * 3600) return [3600, "h"];
    if (total > 3 * 60) return [60, "min"];
    return [1, "s"];
  }

  function formatter(kind, unit) {
    if (kind === "time") return function (v) { return span(v); };
    if (kind === "percent") return function (v) { return v === null ? "–" : num(v) + " %"; };
    if (kind === "ms") return function (v) { return v === null ? "–" : span(v / 1000); };
    if (kind === "usd") return function (v) { return v === null ? "–" : "$" + num(v); };
    return function (v) { return v === null ? "–" : num(v) + (unit ? " " + unit : ""); };
  }

  // Shaded spans (host outages, deploys) drawn under the series.
  function shadePlugin(shades) {
    return {
      hooks: {
        drawClear: [function (u) {
          var ctx = u.ctx;
          shades.forEach(function (s) {
            var x0 = u.valToPos(s.from, "x", true);
            var x1 = u.valToPos(s.to, "x", true);
            var left = Math.max(u.bbox.left, Math.min(x0, x1));
            var right = Math.min(u.bbox.left + u.bbox.width, Math.max(x0, x1));
            if (right <= left) return;
            ctx.save();
            ctx.fillStyle = s.colour;
            ctx.fillRect(left, u.bbox.top, Math.max(right - left, 2), u.bbox.height);
            ctx.restore();
          });
        }]
      }
    };
  }

  function draw(spec, holder) {
    var xs = spec.x.values;
    var total = xs.length > 1 ? xs[xs.length - 1] - xs[0] : 1;
    var xFmt, xTicks, xLabel = spec.x.label;
    if (spec.x.kind === "time") {
      var tu = timeUnit(total);
      xLabel = spec.x.label + " [" + tu[1] + "]";
      xFmt = span;
      xTicks = function (u, splits) { return splits.map(function (v) { return num(v / tu[0]); }); };
    } else if (spec.x.kind === "category") {
      var cats = spec.x.categories;
      xFmt = function (v) { return cats[Math.round(v)] === undefined ? "" : cats[Math.round(v)]; };
      xTicks = function (u, splits) {
        return splits.map(function (v) { return Number.isInteger(v) ? xFmt(v) : ""; });
      };
    } else {
      xFmt = formatter(spec.x.format, spec.x.unit);
      xTicks = function (u, splits) { return splits.map(xFmt); };
    }
    var scales = { x: { time: false } };
    var axes = [{
      label: xLabel,
      values: xTicks,
      incrs: spec.x.kind === "time" ? TIME_STEPS : (spec.x.kind === "category" ? [1, 2, 5, 10, 20, 50, 100] : undefined),
      space: spec.x.kind === "category" ? 80 : 60,
      rotate: spec.x.kind === "category" && spec.x.categories.length > 6 ? -30 : 0
    }];
    spec.axes.forEach(function (a, i) {
      var fmt = formatter(a.format, a.unit);
      scales["y" + i] = a.log ? { distr: 3, log: 10 } : { range: a.from_zero ? function (u, min, max) { return [Math.min(0, min), max > 0 ? max * 1.05 : 1]; } : undefined };
      axes.push({
        scale: "y" + i,
        label: a.label,
        side: i === 0 ? 3 : 1,
        grid: { show: i === 0 },
        size: 70,
        values: function (u, splits) { return splits.map(fmt); }
      });
    });
    var series = [{ label: spec.x.label, value: function (u, v) { return v === null ? "–" : xFmt(v); } }];
    spec.series.forEach(function (s) {
      var fmt = formatter(spec.axes[s.axis].format, spec.axes[s.axis].unit);
      series.push({
        label: s.label,
        scale: "y" + s.axis,
        stroke: s.colour,
        width: s.width || 2,
        dash: s.dash || undefined,
        fill: s.fill || undefined,
        spanGaps: false,
        points: { show: !!s.points, size: 6, fill: s.colour },
        paths: s.points_only ? function () { return null; } : undefined,
        value: function (u, v) { return fmt(v); }
      });
    });
    var width = Math.max(320, holder.clientWidth || 1100);
    var opts = {
      title: spec.title,
      width: width,
      height: spec.height || 360,
      scales: scales,
      axes: axes,
      series: series,
      cursor: { drag: { x: true, y: false, setScale: true } },
      legend: { live: true },
      plugins: spec.shades && spec.shades.length ? [shadePlugin(spec.shades)] : []
    };
    var columns = [xs].concat(spec.series.map(function (s) { return s.values; }));
    var plot = new uPlot(opts, columns, holder);
    window.addEventListener("resize", function () {
      plot.setSize({ width: Math.max(320, holder.clientWidth || width), height: opts.height });
    });
    return plot;
  }

  // Sorts a table's body rows by a column: by the cells' data-v numbers when every cell has
  // one, else as text; a second click reverses.
  function sortable(table) {
    var heads = table.querySelectorAll("thead th");
    heads.forEach(function (th, col) {
      th.addEventListener("click", function () {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var asc = th.getAttribute("data-sort") !== "asc";
        heads.forEach(function (h) { h.removeAttribute("data-sort"); });
        th.setAttribute("data-sort", asc ? "asc" : "desc");
        var key = function (r) {
          var c = r.cells[col];
          if (!c) return "";
          var v = c.getAttribute("data-v");
          return v === null ? c.textContent : parseFloat(v);
        };
        var numeric = rows.every(function (r) { return typeof key(r) === "number" && !isNaN(key(r)); });
        rows.sort(function (a, b) {
          var x = key(a), y = key(b);
          var d = numeric ? x - y : String(x).localeCompare(String(y), "en", { numeric: true });
          return asc ? d : -d;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }

  function start() {
    var data = JSON.parse(document.getElementById("flysim-data").textContent);
    var drawn = 0;
    data.charts.forEach(function (spec) {
      var holder = document.getElementById("chart-" + spec.id);
      if (holder) {
        draw(spec, holder);
        drawn += 1;
      }
    });
    document.querySelectorAll("table.sortable").forEach(sortable);
    document.documentElement.setAttribute("data-charts-drawn", String(drawn));
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
