/**
 * The JSON model of the committed dashboards, in the foundation SDK's own types: its Dashboard with
 * panels narrowed to the kinds these dashboards use (time series and stat with their typed options,
 * rows), queries narrowed to Prometheus queries, and no snapshot (a provisioned dashboard is none). dashboard-schema.ts turns this type into the JSON
 * schema the committed files are validated against; fields the SDK types as `any` stay open.
 */
import type {
  AnnotationQuery,
  Dashboard,
  FieldConfigSource,
  Panel,
  RowPanel,
} from '@grafana/grafana-foundation-sdk/dist/dashboard';
import type { Dataquery } from '@grafana/grafana-foundation-sdk/dist/prometheus';
import type { Options as StatOptionsSdk } from '@grafana/grafana-foundation-sdk/dist/stat';
import type {
  FieldConfig as TimeseriesFieldConfigSdk,
  Options as TimeseriesOptionsSdk,
} from '@grafana/grafana-foundation-sdk/dist/timeseries';

/** The same fields under a name of its own: the SDK has several types called Options and FieldConfig. */
type Renamed<T> = { [K in keyof T]: T[K] };

export type TimeseriesOptions = Renamed<TimeseriesOptionsSdk>;
export type TimeseriesFieldConfig = Renamed<TimeseriesFieldConfigSdk>;
export type StatOptions = Renamed<StatOptionsSdk>;

type PrometheusPanel = Omit<Panel, 'targets' | 'type' | 'options' | 'fieldConfig'> & {
  targets: Dataquery[];
};

export type TimeseriesPanelModel = PrometheusPanel & {
  type: 'timeseries';
  options: TimeseriesOptions;
  fieldConfig: Omit<FieldConfigSource, 'defaults'> & {
    defaults: Omit<FieldConfigSource['defaults'], 'custom'> & { custom: TimeseriesFieldConfig };
  };
};

export type StatPanelModel = PrometheusPanel & {
  type: 'stat';
  options: StatOptions;
  fieldConfig: FieldConfigSource;
};

export type RowModel = Omit<RowPanel, 'panels'> & { panels: (TimeseriesPanelModel | StatPanelModel)[] };

export type DashboardModel = Omit<Dashboard, 'panels' | 'annotations' | 'snapshot'> & {
  panels: (TimeseriesPanelModel | StatPanelModel | RowModel)[];
  annotations: { list?: (Omit<AnnotationQuery, 'target'> & { target?: Dataquery })[] };
};
