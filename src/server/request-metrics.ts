/** Request-duration histograms by route and status, in Prometheus text form. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const NAME = 'quotaclock_http_request_duration_seconds';

interface Series {
  readonly labels: string;
  readonly counts: number[];
  sum: number;
  count: number;
}

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

export class RequestMetrics {
  private readonly series = new Map<string, Series>();

  /** The series by method, route and status, so a request finds its own without building label text. */
  private readonly byRequest = new Map<string, Series>();

  observe(method: string, route: string, status: number, seconds: number): void {
    const id = `${method} ${status} ${route}`;
    let s = this.byRequest.get(id);
    if (!s) {
      const labels = `method="${escape(method)}",route="${escape(route)}",status="${status}"`;
      s = this.series.get(labels) ?? { labels, counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.series.set(labels, s);
      this.byRequest.set(id, s);
    }
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) s.counts[i]! += 1;
    s.sum += seconds;
    s.count += 1;
  }

  render(): string {
    let out = `# HELP ${NAME} Time to answer an HTTP request, by route template and status.\n# TYPE ${NAME} histogram\n`;
    for (const s of [...this.series.values()].sort((a, b) => (a.labels < b.labels ? -1 : 1))) {
      BUCKETS.forEach((b, i) => {
        out += `${NAME}_bucket{${s.labels},le="${b}"} ${s.counts[i]}\n`;
      });
      out += `${NAME}_bucket{${s.labels},le="+Inf"} ${s.count}\n`;
      out += `${NAME}_sum{${s.labels}} ${s.sum}\n${NAME}_count{${s.labels}} ${s.count}\n`;
    }
    return out;
  }
}
