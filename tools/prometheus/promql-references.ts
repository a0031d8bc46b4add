/**
 * What a PromQL expression refers to: its series selectors (metric name, label matchers, the function
 * a selector is handed to) and the label names of its grouping clauses. A scanner, not a parser:
 * promtool proves the expressions parse (test/e2e/monitoring-rules.e2e-spec.ts); this finds the names
 * so that they can be checked against the metric catalog. Grafana's variables are accepted wherever a
 * dashboard may use them.
 */

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface LabelMatcher {
  label: string;
  op: MatchOp;
  value: string;
}

export interface SelectorReference {
  /** Undefined for a selector with no name (`{job="x"}`) and no `__name__` equality matcher. */
  metric: string | undefined;
  matchers: LabelMatcher[];
  /** The function or aggregation whose argument the selector is (`rate`, `max`, …), if any. */
  enclosingFunction: string | undefined;
}

export interface PromqlReferences {
  selectors: SelectorReference[];
  /** Labels named by `by`, `without`, `on`, `ignoring`, `group_left` and `group_right`. */
  groupingLabels: string[];
}

type TokenKind = 'ident' | 'string' | 'number' | 'punct';
interface Token {
  kind: TokenKind;
  text: string;
}

const AGGREGATIONS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
]);
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const OPERATORS = new Set(['and', 'or', 'unless', 'bool', 'atan2', 'offset', 'inf', 'nan', 'start', 'end']);
const PUNCTUATION = ['=~', '!~', '!=', '==', '>=', '<=', '{', '}', '(', ')', '[', ']', ',', '=', '<', '>'];
const PUNCTUATION_CHARS = '+-*/%^:@';
const UNIT = '(?:ms|s|m|h|d|w|y)';
const NUMBER = new RegExp(
  `^(?:0[xX][0-9a-fA-F]+|(?:[0-9]+\\.?[0-9]*|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?(?:${UNIT}(?:[0-9]+${UNIT})*)?)`,
);
const IDENT = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
/** `$__rate_interval`, `${pool}`, `$pool`: Grafana replaces them before Prometheus sees the query. */
const GRAFANA_VARIABLE = /^\$(?:\{[^}]*\}|\w+)/;

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const rest = expr.slice(i);
    const c = expr[i] ?? '';
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      const nl = expr.indexOf('\n', i);
      i = nl < 0 ? expr.length : nl;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      let value = '';
      while (j < expr.length && expr[j] !== c) {
        if (expr[j] === '\\' && c !== '`') j++;
        value += expr[j] ?? '';
        j++;
      }
      if (j >= expr.length) throw new Error(`unterminated string at ${i}: ${expr}`);
      tokens.push({ kind: 'string', text: value });
      i = j + 1;
      continue;
    }
    const variable = GRAFANA_VARIABLE.exec(rest);
    if (variable) {
      // only intervals ([$__rate_interval]) stand outside strings; they behave like a duration
      tokens.push({ kind: 'number', text: variable[0] });
      i += variable[0].length;
      continue;
    }
    const number = NUMBER.exec(rest);
    if (number) {
      tokens.push({ kind: 'number', text: number[0] });
      i += number[0].length;
      continue;
    }
    const ident = IDENT.exec(rest);
    if (ident) {
      tokens.push({ kind: 'ident', text: ident[0] });
      i += ident[0].length;
      continue;
    }
    const punct = PUNCTUATION.find((p) => rest.startsWith(p)) ?? (PUNCTUATION_CHARS.includes(c) ? c : '');
    if (!punct) throw new Error(`unexpected character ${JSON.stringify(c)} at ${i}: ${expr}`);
    tokens.push({ kind: 'punct', text: punct });
    i += punct.length;
  }
  return tokens;
}

function isPunct(t: Token | undefined, text: string): boolean {
  return t?.kind === 'punct' && t.text === text;
}

/** Reads `{a="x", b=~"y"}` from the `{` at `start`; returns the matchers and the index after `}`. */
function readMatchers(tokens: Token[], start: number, expr: string): [LabelMatcher[], number] {
  const matchers: LabelMatcher[] = [];
  let i = start + 1;
  while (!isPunct(tokens[i], '}')) {
    const label = tokens[i];
    const op = tokens[i + 1];
    const value = tokens[i + 2];
    if (
      !label ||
      (label.kind !== 'ident' && label.kind !== 'string') ||
      op?.kind !== 'punct' ||
      !['=', '!=', '=~', '!~'].includes(op.text) ||
      value?.kind !== 'string'
    )
      throw new Error(`malformed label matchers in: ${expr}`);
    matchers.push({ label: label.text, op: op.text as MatchOp, value: value.text });
    i += 3;
    if (isPunct(tokens[i], ',')) i++;
  }
  return [matchers, i + 1];
}

/** Index after the `]` that closes the `[` at `start`. */
function skipBrackets(tokens: Token[], start: number, expr: string): number {
  let depth = 0;
  for (let i = start; i < tokens.length; i++) {
    if (isPunct(tokens[i], '[')) depth++;
    if (isPunct(tokens[i], ']') && --depth === 0) return i + 1;
  }
  throw new Error(`unbalanced [ ] in: ${expr}`);
}

export function promqlReferences(expr: string): PromqlReferences {
  const tokens = tokenize(expr);
  const selectors: SelectorReference[] = [];
  const groupingLabels: string[] = [];
  // the function or aggregation each open parenthesis belongs to (undefined for plain grouping)
  const open: (string | undefined)[] = [];
  let pendingCall: string | undefined;
  let i = 0;
  while (i < tokens.length) {
    const t = tokens[i] as Token;
    const next = tokens[i + 1];
    if (isPunct(t, '[')) {
      i = skipBrackets(tokens, i, expr);
      continue;
    }
    if (isPunct(t, '(')) {
      open.push(pendingCall);
      pendingCall = undefined;
      i++;
      continue;
    }
    if (isPunct(t, ')')) {
      if (open.length === 0) throw new Error(`unbalanced ( ) in: ${expr}`);
      open.pop();
      i++;
      continue;
    }
    if (isPunct(t, '{')) {
      const [matchers, after] = readMatchers(tokens, i, expr);
      const name = matchers.find((m) => m.label === '__name__' && m.op === '=');
      selectors.push({
        metric: name?.value,
        matchers: matchers.filter((m) => m !== name),
        enclosingFunction: open.at(-1),
      });
      i = after;
      continue;
    }
    if (t.kind !== 'ident') {
      i++;
      continue;
    }
    const word = t.text.toLowerCase();
    if (GROUPING.has(word)) {
      i++;
      if (isPunct(tokens[i], '(')) {
        for (i++; i < tokens.length && !isPunct(tokens[i], ')'); i++) {
          const label = tokens[i] as Token;
          if (label.kind === 'ident' || label.kind === 'string') groupingLabels.push(label.text);
        }
        i++;
      }
      continue;
    }
    if (OPERATORS.has(word)) {
      i++;
      continue;
    }
    if (AGGREGATIONS.has(word) || isPunct(next, '(')) {
      pendingCall = word;
      i++;
      continue;
    }
    // anything else standing alone is a metric name
    let matchers: LabelMatcher[] = [];
    i++;
    if (isPunct(tokens[i], '{')) [matchers, i] = readMatchers(tokens, i, expr);
    selectors.push({ metric: t.text, matchers, enclosingFunction: open.at(-1) });
  }
  return { selectors, groupingLabels };
}

/** `{{pool}} {{ state }}` → ['pool', 'state']: the labels a Grafana legend format prints. */
export function legendLabels(legendFormat: string): string[] {
  return [...legendFormat.matchAll(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)].map((m) => m[1] as string);
}
