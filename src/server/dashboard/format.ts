import type { Limit } from '../../core/plans.js';
import { html, type Html } from './html.js';

/**
 * The viewer's locale, from Accept-Language: the first tag Intl supports.
 * Numbers and dates are formatted on the server, so pages need no script to
 * read in the viewer's own conventions.
 */
export function localeFrom(acceptLanguage: string | undefined): string {
  const tags = (acceptLanguage ?? '')
    .split(',')
    .map((part) => {
      const [tag, ...params] = part.trim().split(';');
      const q = params.find((p) => p.trim().startsWith('q='));
      return { tag: tag!.trim(), q: q ? Number(q.trim().slice(2)) : 1 };
    })
    .filter((t) => t.tag && t.tag !== '*' && Number.isFinite(t.q) && t.q > 0)
    .sort((a, b) => b.q - a.q);
  for (const { tag } of tags) {
    try {
      const [supported] = Intl.NumberFormat.supportedLocalesOf(tag);
      if (supported) return supported;
    } catch {
      // not a well-formed tag: try the next one
    }
  }
  return 'en-US';
}

const UTC_HOVER = new Intl.DateTimeFormat('en-CA', {
  timeZone: 'UTC',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

/**
 * Building an Intl formatter costs far more than using one (ICU loads its
 * data for each), and a page formats dozens of instants: formatters are kept
 * for the process, per locale and options. The keys are bounded (locales
 * Intl supports, IANA zones); the cap only guards against a flood of them.
 */
const FORMATTERS = new Map<string, Intl.DateTimeFormat>();

function dateFormat(locale: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${locale}\u0000${JSON.stringify(options)}`;
  let f = FORMATTERS.get(key);
  if (!f) {
    if (FORMATTERS.size >= 2000) FORMATTERS.clear();
    f = new Intl.DateTimeFormat(locale, options);
    FORMATTERS.set(key, f);
  }
  return f;
}

/** Formats numbers and instants for one viewer. */
export class Formatter {
  private readonly numbers: Intl.NumberFormat;
  private readonly pct: Intl.NumberFormat;

  constructor(readonly locale: string) {
    this.numbers = new Intl.NumberFormat(locale);
    this.pct = new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 0 });
  }

  num(n: number): string {
    return this.numbers.format(n);
  }

  percent(fraction: number): string {
    return this.pct.format(fraction);
  }

  limit(l: Limit): string {
    return l === null ? 'Unlimited' : this.num(l);
  }

  /** "Dec 1, 2026, 00:00 CET" in the given zone. */
  instantText(iso: string, zone: string): string {
    const f = dateFormat(this.locale, { timeZone: zone, dateStyle: 'medium', timeStyle: 'short' });
    const d = new Date(iso);
    const name = zoneName(d, zone, this.locale);
    return `${f.format(d)} ${name}`;
  }

  /** A <time> in the given zone, with the UTC instant on hover. */
  instant(iso: string | null | undefined, zone: string): Html {
    if (!iso) return html`<span class="muted">—</span>`;
    return html`<time datetime="${iso}" title="${utcText(iso)}"
      >${this.instantText(iso, zone)}</time
    >`;
  }

  /** A compact <time> for dense tables ("Nov 24, 2:34 PM"); the zone is named once, in the table's heading. */
  instantShort(iso: string, zone: string): Html {
    const f = dateFormat(this.locale, {
      timeZone: zone,
      month: 'short',
      day: 'numeric',
      hour: 'numeric',
      minute: '2-digit',
    });
    // Date and time each kept whole, so a narrow column breaks between them, never inside.
    const parts = f.formatToParts(new Date(iso));
    const hour = parts.findIndex((p) => p.type === 'hour');
    const text = (list: Intl.DateTimeFormatPart[]) => list.map((p) => p.value).join('');
    const shown =
      hour > 0
        ? html`<span class="nowrap">${text(parts.slice(0, hour)).trimEnd()}</span>
            <span class="nowrap">${text(parts.slice(hour))}</span>`
        : text(parts);
    return html`<time datetime="${iso}" title="${utcText(iso)}">${shown}</time>`;
  }

  /** A calendar day ("Dec 1") in the viewer's locale. */
  day(isoDay: string): string {
    const f = dateFormat(this.locale, { timeZone: 'UTC', month: 'short', day: 'numeric' });
    return f.format(new Date(`${isoDay}T12:00:00Z`));
  }
}

export function utcText(iso: string): string {
  return `${UTC_HOVER.format(new Date(iso)).replace(',', '')} UTC`;
}

function zoneName(d: Date, zone: string, locale: string): string {
  const parts = dateFormat(locale, { timeZone: zone, timeZoneName: 'short' }).formatToParts(d);
  return parts.find((p) => p.type === 'timeZoneName')?.value ?? zone;
}

/** "in 3 days", "2 hours ago": for run times and expiries. */
export function relative(iso: string, nowMs: number, locale: string): string {
  const diff = Date.parse(iso) - nowMs;
  const rtf = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  const abs = Math.abs(diff);
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ['day', 86_400_000],
    ['hour', 3_600_000],
    ['minute', 60_000],
  ];
  for (const [unit, ms] of units) if (abs >= ms) return rtf.format(Math.round(diff / ms), unit);
  return rtf.format(Math.round(diff / 1000), 'second');
}
