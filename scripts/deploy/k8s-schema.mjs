// Strict, offline validation of Kubernetes objects against the API schema of
// one Kubernetes version, the oldest weft supports (KUBERNETES_VERSION).
//
// The schema comes from the npm package kubernetes-models, generated from that
// version's OpenAPI document, in two forms, and both are applied:
//  1. its TypeScript declarations: each object is type-checked as an object
//     literal of its kind's interface, so an unknown field anywhere (which
//     `kubectl apply --validate=strict` rejects and the API server drops), a
//     missing required field, a wrong type or a wrong apiVersion/kind fails;
//  2. its JSON-schema validators (ajv): formats and ranges (int32, ...).
// A kind without a schema in that version fails too: nothing passes unchecked.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import ts from 'typescript';

export const KUBERNETES_VERSION = '1.33';
const MODELS = 'kubernetes-models';
const MODELS_VERSION = '4.5.1'; // generated from Kubernetes 1.33

const API_VERSION = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?v[0-9]+((alpha|beta)[0-9]+)?$/;
const KIND = /^[A-Z][A-Za-z0-9]*$/;

/** `Kind namespace/name` of an object, for messages. */
export function describe(o) {
  const m = o && typeof o === 'object' ? o.metadata : undefined;
  const name =
    m && typeof m === 'object' ? `${m.namespace ? `${m.namespace}/` : ''}${m.name}` : '?';
  return `${o?.kind ?? '?'} ${name}`;
}

/**
 * Problems of `docs` ([{source, object}]): [{source, object, path, message}],
 * empty when every object is valid.
 */
export async function validateObjects(root, docs) {
  checkModelsVersion(root);
  const problems = [];
  const typed = [];
  for (const doc of docs) {
    const where = { source: doc.source, object: describe(doc.object) };
    const o = doc.object;
    if (!o || typeof o !== 'object' || Array.isArray(o)) {
      problems.push({ ...where, path: '', message: 'not an object' });
      continue;
    }
    if (!API_VERSION.test(String(o.apiVersion)) || !KIND.test(String(o.kind))) {
      problems.push({ ...where, path: '', message: 'apiVersion or kind missing or malformed' });
      continue;
    }
    const module = `${MODELS}/${o.apiVersion}/${o.kind}`;
    if (!existsSync(join(root, 'node_modules', `${module}.d.ts`))) {
      problems.push({
        ...where,
        path: 'apiVersion',
        message: `no ${o.apiVersion} ${o.kind} in the Kubernetes ${KUBERNETES_VERSION} API`,
      });
      continue;
    }
    typed.push({ doc, where, module });
  }
  problems.push(...typeCheck(root, typed));
  for (const t of typed) problems.push(...(await schemaCheck(t)));
  return problems;
}

function checkModelsVersion(root) {
  const require = createRequire(join(root, 'package.json'));
  const { version } = require(`${MODELS}/package.json`);
  if (version !== MODELS_VERSION) {
    throw new Error(
      `${MODELS} ${version} is installed, but this check pins ${MODELS_VERSION} ` +
        `(Kubernetes ${KUBERNETES_VERSION}); run npm ci`,
    );
  }
}

/** The TypeScript check: one virtual file with every object as a typed literal. */
function typeCheck(root, typed) {
  if (typed.length === 0) return [];
  const lines = [];
  const lineInfo = []; // per line: {t, path}
  const emit = (text, t, path) => {
    lines.push(text);
    lineInfo.push({ t, path });
  };
  typed.forEach((t, i) => {
    const type = `I${t.doc.object.kind}`;
    emit(`import type { ${type} as T${i} } from ${JSON.stringify(t.module)};`, t, '');
  });
  typed.forEach((t, i) => literal(t.doc.object, `export const o${i}: T${i} = `, ';', t, '', emit));
  const file = join(root, '__weft_validate_deploy__.ts');
  const text = `${lines.join('\n')}\n`;
  const options = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    types: [],
    skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version, ...rest) =>
    name === file
      ? ts.createSourceFile(name, text, version)
      : getSourceFile(name, version, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const at = (node) =>
    lineInfo[program.getSourceFile(file).getLineAndCharacterOfPosition(node.getStart()).line];
  const problems = unknownFields(program, file, at);
  const diagnostics = [...program.getSyntacticDiagnostics(), ...program.getSemanticDiagnostics()];
  for (const d of diagnostics) {
    // Excess properties: unknownFields() reports every one; TypeScript only the first.
    if (d.code === EXCESS_PROPERTY) continue;
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n').split('\n').slice(-1)[0];
    if (d.file?.fileName !== file || d.start === undefined) {
      problems.push({
        source: '(schema)',
        object: '',
        path: '',
        message: `TypeScript: ${message}`,
      });
      continue;
    }
    const info = lineInfo[d.file.getLineAndCharacterOfPosition(d.start).line];
    const kind = info.t.doc.object.kind;
    problems.push({ ...info.t.where, path: info.path, message: message.replace(/T\d+/g, kind) });
  }
  return problems;
}

const EXCESS_PROPERTY = 2353;

/**
 * Every property of every object literal that its contextual type (the
 * schema's type at that place) does not declare: unknown fields, all of them.
 */
function unknownFields(program, file, at) {
  const checker = program.getTypeChecker();
  const problems = [];
  const declares = (type, name) =>
    checker.getIndexInfosOfType(type).length > 0 ||
    (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) !== 0 ||
    checker.getPropertyOfType(type, name) !== undefined;
  const visit = (node) => {
    if (ts.isObjectLiteralExpression(node)) {
      const contextual = checker.getContextualType(node);
      const type = contextual && checker.getNonNullableType(contextual);
      const members = type ? (type.isUnion() ? type.types : [type]) : [];
      for (const prop of members.length ? node.properties : []) {
        const name = prop.name && ts.isStringLiteral(prop.name) ? prop.name.text : undefined;
        if (name === undefined || members.some((m) => declares(m, name))) continue;
        const info = at(prop);
        problems.push({
          ...info.t.where,
          path: info.path,
          message: `unknown field "${name}": ${checker.typeToString(type)} has no such field`,
        });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(program.getSourceFile(file));
  return problems;
}

/** Emits `value` as a TypeScript literal, one property or element a line. */
function literal(value, prefix, suffix, t, path, emit) {
  if (Array.isArray(value)) {
    if (value.length === 0) return emit(`${prefix}[]${suffix}`, t, path);
    emit(`${prefix}[`, t, path);
    value.forEach((v, i) => literal(v, '', ',', t, `${path}[${i}]`, emit));
    return emit(`]${suffix}`, t, path);
  }
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 0) return emit(`${prefix}{}${suffix}`, t, path);
    emit(`${prefix}{`, t, path);
    for (const k of keys) {
      const p = path ? `${path}.${k}` : k;
      literal(value[k], `${JSON.stringify(k)}: `, ',', t, p, emit);
    }
    return emit(`}${suffix}`, t, path);
  }
  return emit(`${prefix}${JSON.stringify(value)}${suffix}`, t, path);
}

/** The JSON-schema check, with kubernetes-models' generated validator of the kind. */
async function schemaCheck(t) {
  const mod = await import(t.module);
  const Model = mod[t.doc.object.kind];
  try {
    new Model(t.doc.object).validate();
    return [];
  } catch (e) {
    const errors = Array.isArray(e?.errors) ? e.errors : [{ instancePath: '', message: e.message }];
    return errors.map((err) => ({
      ...t.where,
      path: jsonPointerPath(err.instancePath ?? ''),
      message: `${err.message}${err.params ? ` ${JSON.stringify(err.params)}` : ''}`,
    }));
  }
}

/** `/spec/containers/0/name` → `spec.containers[0].name`, as the TypeScript check writes it. */
function jsonPointerPath(pointer) {
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce(
      (path, seg) => (/^\d+$/.test(seg) ? `${path}[${seg}]` : path ? `${path}.${seg}` : seg),
      '',
    );
}
