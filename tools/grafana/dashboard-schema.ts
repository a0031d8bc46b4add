/**
 * The JSON schema of the committed dashboards, generated from the foundation SDK's TypeScript types
 * (dashboard-model.ts) with ts-json-schema-generator. Objects are closed (`additionalProperties:
 * false`): a misspelt or unknown field in a committed dashboard fails validation; only what the SDK
 * itself types as `any` (e.g. a transformation's options) stays open.
 */
import { join } from 'node:path';
import { createGenerator } from 'ts-json-schema-generator';
import ts from 'typescript';

export const DASHBOARD_SCHEMA_TYPE = 'DashboardModel';

export function generateDashboardSchema(root: string): object {
  const path = join(root, 'tools', 'grafana', 'dashboard-model.ts');
  // strict, as the SDK's types mean it (the generator's own default program is not): a threshold's
  // `value: number | null` keeps its null
  const tsProgram = ts.createProgram([path], {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    target: ts.ScriptTarget.ES2022,
    types: [],
  });
  return createGenerator({
    tsProgram,
    path,
    type: DASHBOARD_SCHEMA_TYPE,
    additionalProperties: false,
    expose: 'export',
    topRef: true,
    jsDoc: 'extended',
    sortProps: true,
    skipTypeCheck: true,
  }).createSchema(DASHBOARD_SCHEMA_TYPE);
}
