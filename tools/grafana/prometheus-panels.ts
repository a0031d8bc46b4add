/**
 * The few shapes every AgentFleet dashboard is made of, on top of @grafana/grafana-foundation-sdk:
 * Prometheus queries against the `datasource` variable, time series and stat panels with legends that
 * show, rows, and the dashboard frame (variables, links to the other AgentFleet dashboards). Panel ids
 * and layout are assigned in order, so the JSON only changes where a dashboard's definition does.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

/** Every query goes to the data source the viewer picks in the `datasource` variable. */
export const DATASOURCE: dashboard.DataSourceRef = { type: 'prometheus', uid: '${datasource}' };
/** Dashboards of the set carry this tag; their links menu lists the others by it. */
export const TAG = 'agentfleet';

export interface Query {
  expr: string;
  legend?: string;
}

export function query(expr: string, legend?: string): Query {
  return legend === undefined ? { expr } : { expr, legend };
}

/** Width (of 24) and height of a panel. */
export interface Size {
  w: number;
  h: number;
}

interface PanelCommon {
  title: string;
  description: string;
  unit: string;
  queries: Query[];
  size?: Size;
  /** Red from this value on (drawn as a dashed line on time series). */
  redFrom?: number;
}

export interface TimeseriesPanel extends PanelCommon {
  kind: 'timeseries';
  stacked?: boolean;
  bars?: boolean;
  min?: number;
}

export interface StatPanel extends PanelCommon {
  kind: 'stat';
  /** Text shown instead of a value (e.g. 1 → paused). */
  valueTexts?: Record<string, { text: string; color: string }>;
  /** Orange from this value on (below redFrom). */
  orangeFrom?: number;
}

export type PanelSpec = TimeseriesPanel | StatPanel;

export interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

export interface VariableSpec {
  name: string;
  label: string;
  /** label_values(<series>, <name>) */
  series: string;
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  variables: VariableSpec[];
  rows: RowSpec[];
}

/** Pools: every pool queue the leader reports on, whether or not a worker serves it. */
export const POOL_VARIABLE: VariableSpec = { name: 'pool', label: 'Pool', series: 'agentfleet_queue_jobs' };
/** Execution targets (by name) that ran at least one attempt. */
export const TARGET_VARIABLE: VariableSpec = {
  name: 'target',
  label: 'Target',
  series: 'agentfleet_job_attempts_total',
};

export function timeseriesPanel(spec: Omit<TimeseriesPanel, 'kind'>): TimeseriesPanel {
  return { kind: 'timeseries', ...spec };
}

export function statPanel(spec: Omit<StatPanel, 'kind'>): StatPanel {
  return { kind: 'stat', ...spec };
}

const DEFAULT_SIZE: Record<PanelSpec['kind'], Size> = { timeseries: { w: 12, h: 8 }, stat: { w: 6, h: 4 } };
const REF_IDS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

function targets(queries: Query[], instant: boolean): prometheus.DataqueryBuilder[] {
  return queries.map((q, i) => {
    const t = new prometheus.DataqueryBuilder()
      .refId(REF_IDS[i] ?? `Q${i}`)
      .datasource(DATASOURCE)
      .expr(q.expr)
      .legendFormat(q.legend ?? '__auto');
    return instant ? t.instant() : t.range();
  });
}

function thresholds(spec: PanelSpec): dashboard.ThresholdsConfigBuilder {
  const steps: dashboard.Threshold[] = [{ value: null, color: 'green' }];
  if (spec.kind === 'stat' && spec.orangeFrom !== undefined)
    steps.push({ value: spec.orangeFrom, color: 'orange' });
  if (spec.redFrom !== undefined) steps.push({ value: spec.redFrom, color: 'red' });
  return new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps(steps);
}

function buildTimeseries(spec: TimeseriesPanel, id: number): timeseries.PanelBuilder {
  const size = spec.size ?? DEFAULT_SIZE.timeseries;
  const p = new timeseries.PanelBuilder()
    .id(id)
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .targets(targets(spec.queries, false))
    .unit(spec.unit)
    .span(size.w)
    .height(size.h)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.List)
        .placement(common.LegendPlacement.Bottom)
        .calcs([]),
    )
    .tooltip(
      new common.VizTooltipOptionsBuilder()
        .mode(common.TooltipDisplayMode.Multi)
        .sort(common.SortOrder.Descending),
    )
    .drawStyle(spec.bars ? common.GraphDrawStyle.Bars : common.GraphDrawStyle.Line)
    .lineWidth(1)
    .fillOpacity(spec.stacked || spec.bars ? 60 : 10)
    .showPoints(common.VisibilityMode.Never)
    .spanNulls(false)
    .stacking(
      new common.StackingConfigBuilder()
        .mode(spec.stacked ? common.StackingMode.Normal : common.StackingMode.None)
        .group('A'),
    )
    .thresholds(thresholds(spec))
    .thresholdsStyle(
      new common.GraphThresholdsStyleConfigBuilder().mode(
        spec.redFrom === undefined
          ? common.GraphThresholdsStyleMode.Off
          : common.GraphThresholdsStyleMode.Dashed,
      ),
    );
  return spec.min === undefined ? p : p.min(spec.min);
}

function buildStat(spec: StatPanel, id: number): stat.PanelBuilder {
  const size = spec.size ?? DEFAULT_SIZE.stat;
  const p = new stat.PanelBuilder()
    .id(id)
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .targets(targets(spec.queries, true))
    .unit(spec.unit)
    .span(size.w)
    .height(size.h)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .graphMode(common.BigValueGraphMode.None)
    .colorMode(common.BigValueColorMode.Value)
    .textMode(common.BigValueTextMode.Auto)
    .thresholds(thresholds(spec))
    .noValue('0');
  if (!spec.valueTexts) return p;
  return p.mappings([{ type: dashboard.MappingType.ValueToText, options: spec.valueTexts }]);
}

function variable(v: VariableSpec): dashboard.QueryVariableBuilder {
  const q = `label_values(${v.series}, ${v.name})`;
  return new dashboard.QueryVariableBuilder(v.name)
    .label(v.label)
    .datasource(DATASOURCE)
    .query({ qryType: 1, query: q, refId: 'PrometheusVariableQueryEditor-VariableQuery' })
    .definition(q)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ selected: true, text: ['All'], value: ['$__all'] });
}

export function buildDashboard(spec: DashboardSpec): dashboard.Dashboard {
  const b = new dashboard.DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags([TAG])
    .readonly()
    .timezone('browser')
    .time({ from: 'now-6h', to: 'now' })
    .refresh('30s')
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .link(
      new dashboard.DashboardLinkBuilder('AgentFleet')
        .type(dashboard.DashboardLinkType.Dashboards)
        .tags([TAG])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true)
        .icon('external link')
        .tooltip('')
        .targetBlank(false),
    )
    .withVariable(
      new dashboard.DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'),
    );
  for (const v of spec.variables) b.withVariable(variable(v));
  let id = 1;
  for (const row of spec.rows) {
    b.withRow(new dashboard.RowBuilder(row.title).id(id++));
    for (const p of row.panels)
      b.withPanel(p.kind === 'timeseries' ? buildTimeseries(p, id++) : buildStat(p, id++));
  }
  return b.build();
}
