import type { NotifyConfig } from '../config/notify-schema.js';

/** The label of each target, as logs, summaries and metrics show it: "email:ops", "slack", "webhook#2". No secrets. */
export function targetLabels(cfg: Pick<NotifyConfig, 'targets'>): string[] {
  const byType = new Map<string, number>();
  for (const t of cfg.targets) byType.set(t.type, (byType.get(t.type) ?? 0) + 1);
  const seen = new Map<string, number>();
  return cfg.targets.map((t) => {
    const n = (seen.get(t.type) ?? 0) + 1;
    seen.set(t.type, n);
    return t.name ? `${t.type}:${t.name}` : byType.get(t.type)! > 1 ? `${t.type}#${n}` : t.type;
  });
}
