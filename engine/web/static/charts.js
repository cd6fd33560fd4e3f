/* rectify: the charts of the board and the ledger page, drawn with the vendored Apache
   ECharts (echarts.min.js) from the JSON fetched from the section's data-src (/charts.json,
   engine/web/charts.py) once the page has loaded.
   Each element with data-chart="burndown|stages|lights" gets its chart, as SVG; the charts
   are drawn again when the window changes between a phone's width and a desk's. */
(function () {
  "use strict";
  var LIGHTS = { red: "#c62828", yellow: "#f9a825", green: "#2e7d32" };
  var STAGES = ["#90a4ae", "#5c6bc0", "#26a69a", "#ffa726", "#ab47bc", "#8d6e63", "#ec407a",
                "#42a5f5"];
  var FONT = '"Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", system-ui, sans-serif';
  var drawn = [];

  function narrow() { return window.innerWidth < 600; }

  function common(small) {
    return {
      animation: false,
      textStyle: { fontFamily: FONT },
      tooltip: { trigger: "axis", confine: true, axisPointer: { type: "shadow" } },
      legend: { type: "scroll", top: 0, left: "center", itemWidth: 14, itemHeight: 10,
                textStyle: { fontSize: small ? 11 : 12 } },
      grid: { left: 6, right: 14, top: 34, bottom: 4, containLabel: true }
    };
  }

  function villageAxis(names, small) {
    var many = names.length > (small ? 3 : 8);
    return {
      type: "category", data: names,
      axisTick: { alignWithLabel: true },
      axisLabel: { interval: 0, rotate: many ? (small ? 45 : 30) : 0, fontSize: small ? 11 : 12,
                   width: small ? 72 : 110, overflow: "truncate" }
    };
  }

  function countAxis() {
    return { type: "value", minInterval: 1, splitLine: { lineStyle: { color: "#e6e9ed" } } };
  }

  function empty(option, data, nothing) {
    if (nothing) {
      option.graphic = [{ type: "text", left: "center", top: "middle",
                          style: { text: data.empty, fill: "#667", fontSize: 14 } }];
    }
    return option;
  }

  function burndown(data, small) {
    var b = data.burndown;
    var option = common(small);
    option.tooltip.axisPointer = { type: "line" };
    option.xAxis = {
      type: "category", data: b.days, boundaryGap: false,
      axisLabel: { fontSize: small ? 11 : 12, hideOverlap: true,
                   formatter: function (day) { return day.slice(5); } }
    };
    option.yAxis = countAxis();
    option.series = [
      { name: b.names.open, type: "line", data: b.open, symbol: "circle",
        symbolSize: b.days.length > 40 ? 0 : 5, showSymbol: b.days.length <= 40,
        lineStyle: { width: 2.5, color: "#1565c0" }, itemStyle: { color: "#1565c0" },
        areaStyle: { color: "rgba(21, 101, 192, 0.10)" } },
      { name: b.names.ideal, type: "line", data: b.ideal, symbol: "none",
        lineStyle: { type: "dashed", width: 1.5, color: "#8a8f98" },
        itemStyle: { color: "#8a8f98" } }
    ];
    return empty(option, data, b.days.length === 0);
  }

  function stacked(part, colour, data, small) {
    var option = common(small);
    var total = 0;
    option.xAxis = villageAxis(part.villages, small);
    option.yAxis = countAxis();
    option.series = part.series.map(function (s, k) {
      s.data.forEach(function (n) { total += n; });
      return { name: s.name, type: "bar", stack: "all", data: s.data, barMaxWidth: 48,
               itemStyle: { color: colour(s.key, k) } };
    });
    return empty(option, data, total === 0);
  }

  function scoreboard(data, small) {
    var sb = data.scoreboard;
    var option = common(small);
    option.legend = { show: false };
    option.title = { text: sb.at, right: 0, top: 0,
                     textStyle: { fontSize: 11, fontWeight: "normal", color: "#667" } };
    option.tooltip = { trigger: "axis", confine: true, axisPointer: { type: "shadow" } };
    option.grid.top = 22;
    option.xAxis = { type: "value", splitLine: { lineStyle: { color: "#e6e9ed" } } };
    option.yAxis = { type: "category", inverse: true, axisTick: { show: false },
                     data: sb.villages.map(function (v, k) { return sb.ranks[k] + ". " + v; }),
                     axisLabel: { fontSize: small ? 11 : 12, width: small ? 96 : 160,
                                  overflow: "truncate" } };
    option.series = [{ name: sb.name, type: "bar", data: sb.scores, barMaxWidth: 22,
                       label: { show: true, position: "right", fontSize: 11 },
                       itemStyle: { color: "#1565c0" } }];
    return empty(option, data, sb.scores.length === 0);
  }

  function option(kind, data, small) {
    if (kind === "burndown") { return burndown(data, small); }
    if (kind === "scoreboard") { return scoreboard(data, small); }
    if (kind === "stages") {
      return stacked(data.stages, function (key, k) { return STAGES[k % STAGES.length]; },
                     data, small);
    }
    return stacked(data.lights, function (key) { return LIGHTS[key]; }, data, small);
  }

  function load() {
    var section = document.getElementById("charts");
    if (!section || typeof echarts === "undefined") { return; }
    fetch(section.getAttribute("data-src"), { credentials: "same-origin",
                                              headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("charts: " + r.status); } return r.json(); })
      .then(draw)
      .catch(function () { section.setAttribute("data-failed", "1"); });
  }

  function draw(data) {
    var small = narrow();
    var lang = (document.documentElement.lang || "zh").indexOf("zh") === 0 ? "ZH" : "EN";
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var chart = echarts.init(el, null, { renderer: "svg", locale: lang });
      chart.setOption(option(el.getAttribute("data-chart"), data, small));
      drawn.push({ chart: chart, kind: el.getAttribute("data-chart") });
    });
    var wasSmall = small;
    var waiting = null;
    window.addEventListener("resize", function () {
      if (waiting) { window.clearTimeout(waiting); }
      waiting = window.setTimeout(function () {
        var now = narrow();
        drawn.forEach(function (d) {
          if (now !== wasSmall) { d.chart.setOption(option(d.kind, data, now), true); }
          d.chart.resize();
        });
        wasSmall = now;
      }, 100);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", load);
  } else {
    load();
  }
}());
