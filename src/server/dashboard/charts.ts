import { html, type Html } from './html.js';

/** One bar group per day: a value per series. */
export interface DailySeries {
  readonly days: readonly string[];
  readonly series: readonly { readonly name: string; readonly values: readonly number[] }[];
}

/** Series colours, in order; the legend's classes c0…c4 in the stylesheet match them. */
export const PALETTE = ['#3451d1', '#e8590c', '#0ca678', '#7048e8', '#f59f00'] as const;

const FONT = "Lato, 'DejaVu Sans', sans-serif";

/**
 * A daily bar chart drawn by Apache ECharts on the server (the same SVG
 * renderer as the report's chart). It goes into the page as a data: image:
 * ECharts' SVG carries style attributes, which the page's CSP would strip if
 * the SVG were inline, while an image keeps its own styles and runs nothing.
 */
export async function dailyChartSvg(
  data: DailySeries,
  size: { width: number; height: number },
  dayLabel: (day: string) => string,
  formatNumber: (n: number) => string,
): Promise<string> {
  const echarts = await import('echarts');
  const chart = echarts.init(null, null, {
    renderer: 'svg',
    ssr: true,
    width: size.width,
    height: size.height,
  });
  const narrow = size.width < 500;
  try {
    chart.setOption({
      animation: false,
      backgroundColor: 'transparent',
      textStyle: { fontFamily: FONT, color: '#5a6475' },
      grid: { left: narrow ? 36 : 48, right: 12, top: 16, bottom: 28 },
      xAxis: {
        type: 'category',
        data: data.days.map(dayLabel),
        axisTick: { show: false },
        axisLine: { lineStyle: { color: '#cdd2da' } },
        axisLabel: { fontSize: narrow ? 10 : 11, color: '#5a6475', hideOverlap: true },
      },
      yAxis: {
        type: 'value',
        minInterval: 1,
        splitLine: { lineStyle: { color: '#eceff4' } },
        axisLabel: {
          fontSize: narrow ? 10 : 11,
          color: '#5a6475',
          formatter: (v: number) => formatNumber(v),
        },
      },
      series: data.series.map((s, i) => ({
        name: s.name,
        type: 'bar',
        data: s.values,
        itemStyle: { color: PALETTE[i % PALETTE.length], borderRadius: [3, 3, 0, 0] },
        barMaxWidth: narrow ? 7 : 12,
        barGap: '15%',
      })),
    });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

function dataUri(svg: string): string {
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
}

/** The chart at a desktop and a phone size; the browser picks by width. */
export async function dailyChart(
  data: DailySeries,
  alt: string,
  dayLabel: (day: string) => string,
  formatNumber: (n: number) => string,
): Promise<Html> {
  const [wide, narrow] = await Promise.all([
    dailyChartSvg(data, { width: 640, height: 260 }, dayLabel, formatNumber),
    dailyChartSvg(data, { width: 360, height: 220 }, dayLabel, formatNumber),
  ]);
  return html`<figure class="chart" role="group" aria-label="${alt}">
      <picture>
        <source media="(max-width: 640px)" srcset="${dataUri(narrow)}" />
        <img src="${dataUri(wide)}" alt="${alt}" width="640" height="260" />
      </picture>
    </figure>
    <div class="legend" aria-hidden="true">
      ${data.series.map((s, i) => html`<span class="c${i % PALETTE.length}">${s.name}</span>`)}
    </div>`;
}
