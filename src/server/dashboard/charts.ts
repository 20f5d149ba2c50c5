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

/** The two sizes a chart is drawn at: the browser picks by width. */
export const CHART_SIZES = {
  wide: { width: 640, height: 260 },
  narrow: { width: 360, height: 220 },
} as const;
export type ChartSize = keyof typeof CHART_SIZES;

function figure(wide: string, narrow: string, alt: string, names: readonly string[]): Html {
  return html`<figure class="chart" role="group" aria-label="${alt}">
      <picture>
        <source media="(max-width: 640px)" srcset="${narrow}" />
        <img src="${wide}" alt="${alt}" width="640" height="260" />
      </picture>
    </figure>
    <div class="legend" aria-hidden="true">
      ${names.map((name, i) => html`<span class="c${i % PALETTE.length}">${name}</span>`)}
    </div>`;
}

/**
 * A chart served as its own image (an SVG at `url?size=wide|narrow`): the
 * page's HTML does not wait for ECharts, and the browser fetches, and the
 * server draws, only the size the screen needs.
 */
export function dailyChartImage(url: string, alt: string, names: readonly string[]): Html {
  return figure(`${url}?size=wide`, `${url}?size=narrow`, alt, names);
}

/** The chart at a desktop and a phone size, inline as data: images; the browser picks by width. */
export async function dailyChart(
  data: DailySeries,
  alt: string,
  dayLabel: (day: string) => string,
  formatNumber: (n: number) => string,
): Promise<Html> {
  const [wide, narrow] = await Promise.all([
    dailyChartSvg(data, CHART_SIZES.wide, dayLabel, formatNumber),
    dailyChartSvg(data, CHART_SIZES.narrow, dayLabel, formatNumber),
  ]);
  const names = data.series.map((s) => s.name);
  return figure(dataUri(wide), dataUri(narrow), alt, names);
}
