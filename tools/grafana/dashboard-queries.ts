/**
 * The PromQL of a dashboard's JSON, wherever it stands: panel targets (with their legend format), panels
 * inside collapsed rows, and `label_values(<series>, <label>)` variables.
 */
import { legendLabels } from '../prometheus/promql-references';

export interface DashboardQuery {
  /** "<dashboard uid> / <panel title or variable name>" */
  where: string;
  expr: string;
  /** Labels the query's legend or variable reads from the result. */
  labels: string[];
}

interface PanelJson {
  title?: string;
  targets?: { expr?: string; legendFormat?: string }[];
  panels?: PanelJson[];
}

interface DashboardJson {
  uid?: string;
  panels?: PanelJson[];
  templating?: { list?: { name?: string; type?: string; definition?: string }[] };
}

export function dashboardQueries(json: unknown): DashboardQuery[] {
  const d = json as DashboardJson;
  const uid = d.uid ?? '(no uid)';
  const out: DashboardQuery[] = [];
  const visit = (panels: PanelJson[] | undefined) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? [])
        if (t.expr !== undefined)
          out.push({
            where: `${uid} / ${p.title ?? '(untitled)'}`,
            expr: t.expr,
            labels: legendLabels(t.legendFormat ?? ''),
          });
      visit(p.panels);
    }
  };
  visit(d.panels);
  for (const v of d.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const m = /^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/.exec(v.definition ?? '');
    if (!m)
      throw new Error(`${uid}: variable ${v.name} is not label_values(<series>, <label>): ${v.definition}`);
    out.push({ where: `${uid} / variable ${v.name}`, expr: m[1] as string, labels: [m[2] as string] });
  }
  return out;
}
