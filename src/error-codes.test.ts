/**
 * Error codes, as a test:
 *
 * - every exported error class in src/ carries a `code` taken from the
 *   catalogue: ErrorCodes of core/errors.ts, or the CNI numbers of
 *   core/cni/errors.ts (written `ErrorCodes.X`, or typed with a type the
 *   catalogue exports); a subclass may inherit its base's;
 * - no CNI error number is written outside core/cni/errors.ts: not as the
 *   code of a CNI error, not as a `code:` property, not compared with a
 *   `.code`.
 *
 * It reads the sources (tests excluded) and names every file and line at fault.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { CniErrorCodes, WeftCniCodes } from './core/cni/errors.js';
import { listSources, type SourceFile } from './testing/sources.js';

const ERRORS = 'core/errors.ts';
const CNI_ERRORS = 'core/cni/errors.ts';
const CATALOGUES = [ERRORS, CNI_ERRORS];
const BUILT_IN_ERRORS = ['Error', 'TypeError', 'RangeError', 'SyntaxError'];

/** Each CNI error number, with the name it has in the catalogue. */
const CNI_NAMES = new Map<number, string>([
  ...Object.entries(CniErrorCodes).map(([k, v]): [number, string] => [v, `CniErrorCodes.${k}`]),
  ...Object.entries(WeftCniCodes).map(([k, v]): [number, string] => [v, `WeftCniCodes.${k}`]),
]);

interface Parsed {
  readonly path: string;
  readonly sf: ts.SourceFile;
  /** Local name → the catalogue file it is bound to. */
  readonly catalogue: ReadonlyMap<string, string>;
}

interface ErrorClass {
  readonly path: string;
  readonly line: number;
  readonly name: string;
  readonly base: string;
  readonly exported: boolean;
  /** The `code` member's type and initializer; empty when the class declares none. */
  readonly code: readonly ts.Node[];
  readonly sf: ts.SourceFile;
}

function parse(f: SourceFile): Parsed {
  const sf = ts.createSourceFile(f.path, f.source, ts.ScriptTarget.Latest, true);
  const catalogue = new Map<string, string>();
  for (const s of sf.statements) {
    if (CATALOGUES.includes(f.path) && exported(s)) {
      for (const name of declaredNames(s)) catalogue.set(name, f.path);
    }
    if (!ts.isImportDeclaration(s) || !ts.isStringLiteral(s.moduleSpecifier)) continue;
    const target = posix
      .normalize(posix.join(posix.dirname(f.path), s.moduleSpecifier.text))
      .replace(/\.js$/, '.ts');
    const bindings = s.importClause?.namedBindings;
    if (!CATALOGUES.includes(target) || !bindings || !ts.isNamedImports(bindings)) continue;
    for (const el of bindings.elements) catalogue.set(el.name.text, target);
  }
  return { path: f.path, sf, catalogue };
}

function exported(s: ts.Statement): boolean {
  return (
    ts.canHaveModifiers(s) &&
    (ts.getModifiers(s) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword)
  );
}

function declaredNames(s: ts.Statement): string[] {
  if (ts.isVariableStatement(s))
    return s.declarationList.declarations.flatMap((d) =>
      ts.isIdentifier(d.name) ? [d.name.text] : [],
    );
  if (
    ts.isTypeAliasDeclaration(s) ||
    ts.isInterfaceDeclaration(s) ||
    ts.isClassDeclaration(s) ||
    ts.isFunctionDeclaration(s)
  )
    return s.name ? [s.name.text] : [];
  return [];
}

function lineOf(sf: ts.SourceFile, node: ts.Node): number {
  return sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
}

/** The type and initializer of a `code` property, or of a `code` parameter property. */
function codeMember(c: ts.ClassDeclaration): ts.Node[] {
  for (const m of c.members) {
    if (ts.isPropertyDeclaration(m) && m.name.getText() === 'code')
      return [...(m.type ? [m.type] : []), ...(m.initializer ? [m.initializer] : [])];
    if (!ts.isConstructorDeclaration(m)) continue;
    for (const p of m.parameters) {
      if (ts.isParameterPropertyDeclaration(p, m) && p.name.getText() === 'code')
        return p.type ? [p.type] : [];
    }
  }
  return [];
}

function classesOf(p: Parsed): ErrorClass[] {
  return p.sf.statements.flatMap((s) => {
    if (!ts.isClassDeclaration(s) || !s.name) return [];
    const base = s.heritageClauses
      ?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword)
      ?.types[0]?.expression.getText(p.sf);
    if (!base) return [];
    const c = { path: p.path, line: lineOf(p.sf, s), name: s.name.text, base, sf: p.sf };
    return [{ ...c, exported: exported(s), code: codeMember(s) }];
  });
}

/** The catalogue file `node` takes its value or type from; undefined when it is not one name of it. */
function catalogueOf(node: ts.Node, names: ReadonlyMap<string, string>): string | undefined {
  const root = (n: ts.EntityName): ts.Identifier => (ts.isIdentifier(n) ? n : root(n.left));
  if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression))
    return names.get(node.expression.text);
  if (ts.isTypeReferenceNode(node)) return names.get(root(node.typeName).text);
  if (ts.isTypeQueryNode(node)) return names.get(root(node.exprName).text);
  if (ts.isParenthesizedTypeNode(node)) return catalogueOf(node.type, names);
  if (ts.isUnionTypeNode(node)) {
    const each = node.types.map((t) => catalogueOf(t, names));
    return each.every((c) => c === each[0]) ? each[0] : undefined;
  }
  return undefined;
}

/** Every exported error class: the catalogue file its code comes from, or why it has none. */
function checkClasses(files: readonly Parsed[]): {
  problems: string[];
  cniClasses: Set<string>;
} {
  const all = files.flatMap((p) => classesOf(p).map((c) => ({ c, names: p.catalogue })));
  const errorNames = new Set(BUILT_IN_ERRORS);
  for (let grew = true; grew;) {
    grew = false;
    for (const { c } of all) {
      if (!errorNames.has(c.base) || errorNames.has(c.name)) continue;
      errorNames.add(c.name);
      grew = true;
    }
  }
  const byName = new Map(all.filter(({ c }) => c.exported).map((e) => [e.c.name, e]));
  const origin = (e: (typeof all)[number]): string | undefined => {
    if (e.c.code.length === 0) {
      const base = byName.get(e.c.base);
      return base && origin(base);
    }
    const each = e.c.code.map((n) => catalogueOf(n, e.names));
    return each.every((o) => o === each[0]) ? each[0] : undefined;
  };
  const problems: string[] = [];
  const cniClasses = new Set<string>();
  for (const e of all) {
    if (!errorNames.has(e.c.name)) continue;
    const from = origin(e);
    if (from === CNI_ERRORS) cniClasses.add(e.c.name);
    if (from || !e.c.exported) continue;
    const where = `src/${e.c.path}:${e.c.line}: ${e.c.name}`;
    problems.push(
      e.c.code.length === 0
        ? `${where} carries no code; give it one from ErrorCodes (${ERRORS})`
        : `${where}: its code (${e.c.code.map((n) => n.getText(e.c.sf)).join(' = ')}) is not taken from the catalogue (${ERRORS}, ${CNI_ERRORS})`,
    );
  }
  return { problems, cniClasses };
}

const COMPARISONS = new Set([
  ts.SyntaxKind.EqualsEqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsEqualsToken,
  ts.SyntaxKind.EqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsToken,
]);

const isCniNumber = (n: ts.Node): n is ts.NumericLiteral =>
  ts.isNumericLiteral(n) && CNI_NAMES.has(Number(n.text));
const isCode = (n: ts.Node) => ts.isPropertyAccessExpression(n) && n.name.text === 'code';

function numbersIn(node: ts.Node): ts.NumericLiteral[] {
  const out: ts.NumericLiteral[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isNumericLiteral(n)) out.push(n);
    ts.forEachChild(n, visit);
  };
  visit(node);
  return out;
}

/** The CNI numbers `node` itself writes out, each with how it uses it. */
function cniNumbersAt(
  node: ts.Node,
  cniClasses: ReadonlySet<string>,
): [ts.NumericLiteral, string][] {
  if (ts.isNewExpression(node) && ts.isIdentifier(node.expression)) {
    const cls = node.expression.text;
    const first = node.arguments?.[0];
    if (!cniClasses.has(cls) || !first) return [];
    return numbersIn(first).map((n) => [n, `given to new ${cls}`]);
  }
  if (ts.isPropertyAssignment(node) && node.name.getText() === 'code')
    return isCniNumber(node.initializer) ? [[node.initializer, 'as a code: property']] : [];
  if (ts.isBinaryExpression(node) && COMPARISONS.has(node.operatorToken.kind)) {
    const { left, right } = node;
    if (isCode(left) && isCniNumber(right)) return [[right, 'compared with a .code']];
    if (isCode(right) && isCniNumber(left)) return [[left, 'compared with a .code']];
  }
  return [];
}

/** Every CNI error number written outside the CNI catalogue. */
function checkCniNumbers(files: readonly Parsed[], cniClasses: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const p of files) {
    if (p.path === CNI_ERRORS) continue;
    const visit = (node: ts.Node): void => {
      for (const [n, how] of cniNumbersAt(node, cniClasses)) {
        const name = CNI_NAMES.get(Number(n.text));
        const use = name ? `${name} from ${CNI_ERRORS}` : `a code from ${CNI_ERRORS}`;
        out.push(`src/${p.path}:${lineOf(p.sf, n)}: CNI error ${n.text} ${how}; use ${use}`);
      }
      ts.forEachChild(node, visit);
    };
    visit(p.sf);
  }
  return out;
}

// This file runs as dist/error-codes.test.js; the sources are in src/.
const SRC = fileURLToPath(new URL('../src', import.meta.url));

test('every exported error class carries a code from the catalogue; no CNI number outside it', () => {
  const files = listSources(SRC).map(parse);
  assert.ok(
    files.some((f) => f.path === ERRORS),
    `no sources found in ${SRC}`,
  );
  const { problems, cniClasses } = checkClasses(files);
  assert.deepEqual(problems, [], `error codes:\n${problems.join('\n')}`);
  assert.ok(cniClasses.has('CniError'), 'CniError takes its code from core/cni/errors.ts');
  const numbers = checkCniNumbers(files, cniClasses);
  assert.deepEqual(numbers, [], `CNI error numbers:\n${numbers.join('\n')}`);
});

test('the error code checks name each kind of fault', () => {
  const files = [
    {
      path: 'core/errors.ts',
      source: "export const ErrorCodes = { A: 'WEFT_A' } as const;\nexport type CodesOf<P> = P;",
    },
    {
      path: 'core/cni/errors.ts',
      source: 'export const CniErrorCodes = { IO_ERROR: 5 } as const;',
    },
    {
      path: 'x/errors.ts',
      source: [
        "import { ErrorCodes, type CodesOf } from '../core/errors.js';",
        "import { CniErrorCodes } from '../core/cni/errors.js';",
        'export class Coded extends Error { readonly code = ErrorCodes.A; }',
        'export class Inherits extends Coded {}',
        "export class Typed extends Error { constructor(readonly code: CodesOf<'A'>) { super(); } }",
        'export class Cni extends Error { readonly code = CniErrorCodes.IO_ERROR; }',
        'export class Bare extends Error {}',
        "export class Literal extends Error { readonly code = 'WEFT_A'; }",
        'export class Wide extends Error { constructor(readonly code: number) { super(); } }',
        'class Internal extends Error {}',
        'export class NotAnError {}',
      ].join('\n'),
    },
    {
      path: 'y/use.ts',
      source: [
        "throw new Cni(11, 'x');",
        "const r = { code: 7, msg: 'm' }, s = { code: 0 };",
        'if (r.code === 50 || r.code === 200) throw new Cni(CniErrorCodes.IO_ERROR);',
        '// new Cni(4) in a comment is no code',
      ].join('\n'),
    },
  ].map(parse);
  const { problems, cniClasses } = checkClasses(files);
  assert.deepEqual(problems, [
    'src/x/errors.ts:7: Bare carries no code; give it one from ErrorCodes (core/errors.ts)',
    "src/x/errors.ts:8: Literal: its code ('WEFT_A') is not taken from the catalogue (core/errors.ts, core/cni/errors.ts)",
    'src/x/errors.ts:9: Wide: its code (number) is not taken from the catalogue (core/errors.ts, core/cni/errors.ts)',
  ]);
  assert.deepEqual([...cniClasses], ['Cni']);
  assert.deepEqual(checkCniNumbers(files, cniClasses), [
    'src/y/use.ts:1: CNI error 11 given to new Cni; use CniErrorCodes.TRY_AGAIN_LATER from core/cni/errors.ts',
    'src/y/use.ts:2: CNI error 7 as a code: property; use CniErrorCodes.INVALID_NETWORK_CONFIG from core/cni/errors.ts',
    'src/y/use.ts:3: CNI error 50 compared with a .code; use CniErrorCodes.PLUGIN_NOT_AVAILABLE from core/cni/errors.ts',
  ]);
});
