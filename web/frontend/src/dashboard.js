// The dashboard's charts (ECharts, tree-shaken and bundled; no CDN). The page carries its figures as a
// JSON data block (#dashboard-data) and one <div class="chart" data-chart="…"> per chart; the tables
// below the charts hold the same numbers for readers without script. Each drawn chart gets
// data-rendered="true" (browser tests wait for it).
import { BarChart, LineChart, PieChart } from "echarts/charts";
import { GridComponent, LegendComponent, TitleComponent, TooltipComponent } from "echarts/components";
import { init, use } from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";
import { t } from "./_i18n.js";

use([BarChart, LineChart, PieChart, GridComponent, LegendComponent, TitleComponent, TooltipComponent, CanvasRenderer]);

const FONT = '"Noto Sans CJK SC", "WenQuanYi Zen Hei", "Microsoft YaHei", "PingFang SC", sans-serif';

const EMPTY = (text) => ({ text, left: "center", top: "middle", textStyle: { color: "#888", fontSize: 14 } });

function bars(categories, series, horizontal = false) {
  const category = { type: "category", data: categories, axisLabel: { interval: 0, rotate: horizontal ? 0 : 30 } };
  const value = { type: "value", minInterval: 1 };
  return {
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 8, right: 16, bottom: 8, top: 32, containLabel: true },
    xAxis: horizontal ? value : category,
    yAxis: horizontal ? category : value,
    series: series.map((s) => ({ type: "bar", ...s })),
  };
}

function pie(counts) {
  return {
    tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
    legend: { bottom: 0, type: "scroll" },
    series: [{ type: "pie", radius: ["35%", "65%"], data: Object.entries(counts).map(([name, value]) => ({ name, value })) }],
  };
}

const CHARTS = {
  coverage: (d) => bars(d.coverage.years.map((y) => String(y.year)), [
    { name: t("计划"), data: d.coverage.years.map((y) => y.planned) },
    { name: t("已巡察"), data: d.coverage.years.map((y) => y.inspected) },
  ]),
  "clue-stages": (d) => (d.clues.total ? pie(d.clues.by_stage) : { title: EMPTY(t("暂无问题线索")) }),
  "clue-bodies": (d) => bars(Object.keys(d.clues.by_receiving_body), [
    { name: t("线索数"), data: Object.values(d.clues.by_receiving_body) },
  ]),
  completion: (d) => ({
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 8, right: 16, bottom: 8, top: 32, containLabel: true },
    xAxis: { type: "category", data: d.completion.map((p) => p.month) },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      { type: "line", name: t("整改事项"), data: d.completion.map((p) => p.items) },
      { type: "line", name: t("已销号"), data: d.completion.map((p) => p.struck_off), areaStyle: {} },
    ],
  }),
  "overdue-units": (d) => {
    const late = d.units.filter((u) => u.overdue > 0).slice(0, 15).reverse();
    const option = bars(late.map((u) => u.unit), [{ name: t("逾期"), data: late.map((u) => u.overdue), color: "#c62828" }], true);
    return late.length ? option : { ...option, title: EMPTY(t("暂无逾期事项")) };
  },
  "overdue-counties": (d) => bars(d.counties.map((c) => c.county), [
    { name: t("逾期"), data: d.counties.map((c) => c.overdue), color: "#c62828" },
    { name: t("已销号"), data: d.counties.map((c) => c.struck_off) },
  ]),
};

function draw() {
  const source = document.getElementById("dashboard-data");
  if (!source) return;
  const data = JSON.parse(source.textContent);
  const charts = [];
  document.querySelectorAll("[data-chart]").forEach((element) => {
    const build = CHARTS[element.dataset.chart];
    if (!build) return;
    const chart = init(element, null, { renderer: "canvas" });
    chart.setOption({ textStyle: { fontFamily: FONT }, animation: false, ...build(data) });
    element.dataset.rendered = "true";
    charts.push(chart);
  });
  window.addEventListener("resize", () => charts.forEach((chart) => chart.resize()));
}

document.addEventListener("DOMContentLoaded", draw);
