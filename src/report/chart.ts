import type { UsageReport } from './usage-report.js';

export interface ChartSize {
  readonly width: number;
  readonly height: number;
}

export const CHART_SIZE: ChartSize = { width: 760, height: 520 };

const PALETTE = ['#2F6FB5', '#7FB3E6', '#E07B39', '#3A9E6E', '#8E5BB5', '#C94F4F'];

function planLabel(r: UsageReport, p: UsageReport['plans'][number]): string {
  const base = r.features.length > 1 ? `${p.plan} · ${p.feature}` : p.plan;
  return p.limit === null ? `${base} (unlimited)` : base;
}

/**
 * The report chart, drawn by Apache ECharts on the server (SVG renderer, no
 * DOM): mean and median % of the limit per plan on top, units used per day
 * below.
 */
export async function renderChartSvg(
  r: UsageReport,
  size: ChartSize = CHART_SIZE,
): Promise<string> {
  const echarts = await import('echarts');
  const chart = echarts.init(null, null, {
    renderer: 'svg',
    ssr: true,
    width: size.width,
    height: size.height,
  });
  try {
    chart.setOption(chartOption(r));
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

/** SVG to PNG with resvg, at `scale` × the chart size (2 for sharp text on high-DPI screens). */
export async function svgToPng(
  svg: string,
  size: ChartSize = CHART_SIZE,
  scale = 2,
): Promise<Buffer> {
  const { Resvg } = await import('@resvg/resvg-js');
  const resvg = new Resvg(svg, {
    background: '#ffffff',
    fitTo: { mode: 'width', value: size.width * scale },
    font: {
      loadSystemFonts: true,
      defaultFontFamily: 'DejaVu Sans',
      sansSerifFamily: 'DejaVu Sans',
    },
  });
  return resvg.render().asPng();
}

export async function renderChartPng(
  r: UsageReport,
  size: ChartSize = CHART_SIZE,
): Promise<Buffer> {
  return svgToPng(await renderChartSvg(r, size), size);
}

/** Top: mean and median % of the limit per plan, and how many are at it; bottom: units used per day. */
function chartOption(r: UsageReport): Record<string, unknown> {
  return {
    animation: false,
    backgroundColor: '#ffffff',
    color: PALETTE,
    textStyle: { fontFamily: 'sans-serif' },
    title: [
      { text: 'Utilisation by plan (% of limit)', left: 16, top: 8, textStyle: { fontSize: 14 } },
      { text: 'Units used per day', left: 16, top: '53%', textStyle: { fontSize: 14 } },
    ],
    legend: [
      {
        data: ['mean %', 'median %', 'at limit'],
        right: 16,
        top: 8,
        textStyle: { fontSize: 11 },
      },
      { data: r.features.map((f) => f), right: 16, top: '53%', textStyle: { fontSize: 11 } },
    ],
    grid: [
      { left: 56, right: 84, top: 44, height: '32%' },
      { left: 56, right: 84, top: '62%', bottom: 36 },
    ],
    ...chartAxes(r),
    series: chartSeries(r),
  };
}

function chartAxes(r: UsageReport): Record<string, unknown> {
  const days = r.daily.map((d) => d.day.slice(5));
  return {
    xAxis: [
      {
        gridIndex: 0,
        type: 'category',
        data: r.plans.map((p) => planLabel(r, p)),
        axisLabel: { fontSize: 11, interval: 0 },
      },
      {
        gridIndex: 1,
        type: 'category',
        data: days,
        boundaryGap: false,
        axisLabel: { fontSize: 10 },
      },
    ],
    yAxis: [
      {
        gridIndex: 0,
        type: 'value',
        min: 0,
        max: 100,
        axisLabel: { formatter: '{value}%', fontSize: 10 },
      },
      {
        gridIndex: 0,
        type: 'value',
        minInterval: 1,
        axisLabel: { fontSize: 10, formatter: '{value} at limit' },
        splitLine: { show: false },
      },
      { gridIndex: 1, type: 'value', minInterval: 1, axisLabel: { fontSize: 10 } },
    ],
  };
}

function chartSeries(r: UsageReport): Record<string, unknown>[] {
  const plans = r.plans;
  return [
    {
      name: 'mean %',
      type: 'bar',
      xAxisIndex: 0,
      yAxisIndex: 0,
      data: plans.map((p) => p.meanPct),
      barMaxWidth: 36,
      label: { show: true, position: 'top', fontSize: 10, formatter: '{c}%' },
    },
    {
      name: 'median %',
      type: 'bar',
      xAxisIndex: 0,
      yAxisIndex: 0,
      data: plans.map((p) => p.medianPct),
      barMaxWidth: 36,
    },
    {
      name: 'at limit',
      type: 'line',
      xAxisIndex: 0,
      yAxisIndex: 1,
      data: plans.map((p) => p.atLimit),
      symbolSize: 8,
      lineStyle: { width: 0 },
    },
    ...r.features.map((f) => ({
      name: f,
      type: 'line',
      xAxisIndex: 1,
      yAxisIndex: 2,
      data: r.daily.map((d) => d.used[f] ?? 0),
      smooth: false,
      symbolSize: 4,
      areaStyle: { opacity: 0.12 },
    })),
  ];
}
