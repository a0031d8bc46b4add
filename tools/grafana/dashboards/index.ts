import { apiDashboard } from './api.dashboard';
import { executionDashboard } from './execution.dashboard';
import { fleetDashboard } from './fleet.dashboard';
import { queuesDashboard } from './queues.dashboard';

/** Every dashboard of deploy/grafana/dashboards/, in the order of their files. */
export const DASHBOARDS = [fleetDashboard, executionDashboard, queuesDashboard, apiDashboard];
