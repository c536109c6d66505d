import {
  labelKeyError,
  labelValueError,
  type LabelSelector,
  type Requirement,
  type SelectorOperator,
} from './labels.js';

/**
 * Parses a label selector written as kubectl takes it (`-l`): requirements
 * joined by commas, each `key`, `!key`, `key=value`, `key==value`,
 * `key!=value`, `key in (a,b)` or `key notin (a,b)`. The empty string selects
 * everything. Keys and values are validated as the API server does. `>` and
 * `<` (numeric comparisons) have no LabelSelector form and are refused.
 */
export function parseSelectorText(
  text: string,
): { readonly selector: LabelSelector } | { readonly error: string } {
  try {
    const tokens = tokenize(text);
    if (tokens.length === 0) return { selector: { requirements: [] } };
    const p = new Parser(tokens);
    const requirements: Requirement[] = [p.requirement()];
    while (!p.atEnd()) {
      p.expect(',', 'a comma between requirements');
      requirements.push(p.requirement());
    }
    return { selector: { requirements } };
  } catch (e) {
    if (e instanceof SelectorSyntaxError) return { error: e.message };
    throw e;
  }
}

class SelectorSyntaxError extends Error {}

type TokenKind = 'ident' | '!' | '=' | '==' | '!=' | 'in' | 'notin' | '(' | ')' | ',' | '<' | '>';

interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  /** Offset in the selector text, for error messages. */
  readonly at: number;
}

const OPERATOR_CHARS = new Set(['!', '=', ',', '(', ')', '<', '>']);
const SPACE = /\s/;

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (SPACE.test(c)) {
      i++;
      continue;
    }
    if (OPERATOR_CHARS.has(c)) {
      const two = text.slice(i, i + 2);
      if (two === '==' || two === '!=') {
        out.push({ kind: two, text: two, at: i });
        i += 2;
      } else {
        out.push({ kind: c as TokenKind, text: c, at: i });
        i++;
      }
      continue;
    }
    let j = i;
    while (
      j < text.length &&
      !SPACE.test(text[j] as string) &&
      !OPERATOR_CHARS.has(text[j] as string)
    )
      j++;
    const word = text.slice(i, j);
    const kind: TokenKind = word === 'in' || word === 'notin' ? word : 'ident';
    out.push({ kind, text: word, at: i });
    i = j;
  }
  return out;
}

class Parser {
  private i = 0;
  constructor(private readonly tokens: readonly Token[]) {}

  atEnd(): boolean {
    return this.i >= this.tokens.length;
  }

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }

  private fail(what: string): never {
    const t = this.peek();
    const where = t ? `${JSON.stringify(t.text)} at offset ${t.at}` : 'the end';
    throw new SelectorSyntaxError(`expected ${what}, found ${where}`);
  }

  expect(kind: TokenKind, what: string): Token {
    const t = this.peek();
    if (t?.kind !== kind) this.fail(what);
    this.i++;
    return t;
  }

  requirement(): Requirement {
    if (this.peek()?.kind === '!') {
      this.i++;
      return { key: this.key(), operator: 'DoesNotExist', values: [] };
    }
    const key = this.key();
    const op = this.peek();
    if (op === undefined || op.kind === ',') return { key, operator: 'Exists', values: [] };
    this.i++;
    switch (op.kind) {
      case '=':
      case '==':
        return { key, operator: 'In', values: [this.singleValue()] };
      case '!=':
        return { key, operator: 'NotIn', values: [this.singleValue()] };
      case 'in':
      case 'notin':
        return { key, operator: op.kind === 'in' ? 'In' : 'NotIn', values: this.valueSet(op.kind) };
      case '<':
      case '>':
        throw new SelectorSyntaxError(
          `operator ${op.text} (numeric comparison) is not supported in label filters; use =, !=, in or notin`,
        );
      default:
        this.i--;
        return this.fail(`an operator (=, ==, !=, in, notin) or a comma after key ${key}`);
    }
  }

  private key(): string {
    const t = this.expect('ident', 'a label key');
    const err = labelKeyError(t.text);
    if (err) throw new SelectorSyntaxError(`label key ${JSON.stringify(t.text)}: ${err}`);
    return t.text;
  }

  private value(t: Token): string {
    const err = labelValueError(t.text);
    if (err) throw new SelectorSyntaxError(`label value ${JSON.stringify(t.text)}: ${err}`);
    return t.text;
  }

  /** The value after `=`: possibly empty (`key=` selects an empty value). */
  private singleValue(): string {
    const t = this.peek();
    if (t === undefined || t.kind === ',') return '';
    // `in` and `notin` are ordinary values here, as in apimachinery.
    if (t.kind !== 'ident' && t.kind !== 'in' && t.kind !== 'notin') this.fail('a label value');
    this.i++;
    return this.value(t);
  }

  private valueSet(op: SelectorOperator | 'in' | 'notin'): string[] {
    this.expect('(', `"(" after ${op}`);
    const values: string[] = [];
    while (this.peek()?.kind !== ')') {
      if (values.length > 0) this.expect(',', 'a comma or ")" in the value list');
      const t = this.peek();
      if (t?.kind === ',' || t?.kind === ')') values.push('');
      else values.push(this.value(this.expect('ident', 'a label value')));
    }
    this.i++;
    if (values.length === 0) throw new SelectorSyntaxError(`${op} () needs at least one value`);
    return [...new Set(values)].sort();
  }
}
