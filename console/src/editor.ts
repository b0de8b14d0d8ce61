/*
 * The automation editor: CodeMirror 6 with JSON language support, completion and inline checks
 * from the published JSON Schema (schemas/json/automation.schema.json, bundled at build time),
 * and the API's own validation (POST /api/automations/validate) shown at the path it names, so
 * the editor reports exactly what saving would refuse.
 */
import { autocompletion } from '@codemirror/autocomplete';
import { json, jsonParseLinter } from '@codemirror/lang-json';
import { syntaxTree } from '@codemirror/language';
import { linter, lintGutter, type Diagnostic } from '@codemirror/lint';
import { EditorState, type Extension } from '@codemirror/state';
import type { SyntaxNode } from '@lezer/common';
import { EditorView } from '@codemirror/view';
import { basicSetup } from 'codemirror';
import { jsonCompletion, jsonSchemaLinter, stateExtensions, handleRefresh } from 'codemirror-json-schema';
import type { JSONSchema7 } from 'json-schema';
import automationSchema from '../../schemas/json/automation.schema.json';
import { api, ApiError, type Problem } from './api.ts';

/** `actions[0].text` → ['actions', 0, 'text']. */
export function pathSegments(path: string): Array<string | number> {
  const segments: Array<string | number> = [];
  for (const part of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (part[2] !== undefined) segments.push(Number(part[2]));
    else if (part[1] !== undefined) segments.push(/^\d+$/.test(part[1]) ? Number(part[1]) : part[1]);
  }
  return segments;
}

function valueChildren(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let child = node.firstChild; child; child = child.nextSibling) if (!['[', ']', ',', '{', '}', '⚠'].includes(child.name)) out.push(child);
  return out;
}

/** The document range of the value at `path` (or of its deepest existing parent). */
export function rangeOfPath(state: EditorState, path: string): { from: number; to: number } {
  const tree = syntaxTree(state);
  let node: SyntaxNode | null = tree.topNode.firstChild;
  let property: SyntaxNode | null = null;
  for (const segment of pathSegments(path)) {
    if (!node) break;
    if (node.name === 'Object' && typeof segment === 'string') {
      const match = node.getChildren('Property').find((p) => {
        const name = p.getChild('PropertyName');
        return name !== null && state.sliceDoc(name.from + 1, name.to - 1) === segment;
      });
      if (!match) break;
      property = match;
      node = match.lastChild;
    } else if (node.name === 'Array' && typeof segment === 'number') {
      const item = valueChildren(node)[segment];
      if (!item) break;
      property = null;
      node = item;
    } else break;
  }
  const target = property?.getChild('PropertyName') && node && node.from === node.to ? property : (node ?? tree.topNode);
  return { from: target.from, to: Math.max(target.to, target.from + 1) };
}

/** The API's validation as lint diagnostics at each problem's path. */
function apiValidation(onResult: (problems: readonly Problem[] | null) => void): Extension {
  return linter(
    async (view) => {
      const text = view.state.doc.toString();
      let document: unknown;
      try {
        document = JSON.parse(text);
      } catch {
        onResult(null);
        return []; // the JSON parse linter reports it
      }
      try {
        await api.post('/api/automations/validate', document);
        onResult([]);
        return [];
      } catch (error) {
        if (!(error instanceof ApiError) || error.status !== 422) return [];
        if (view.state.doc.toString() !== text) return [];
        onResult(error.problems);
        return error.problems.map((problem): Diagnostic => {
          const range = rangeOfPath(view.state, problem.path);
          return { ...range, severity: 'error', source: 'vigil', message: `${problem.path || '(document)'}: ${problem.message}` };
        });
      }
    },
    { delay: 400 },
  );
}

export interface AutomationEditor {
  readonly view: EditorView;
  text(): string;
  setText(text: string): void;
  destroy(): void;
}

const schemaCompletion = jsonCompletion();

export function createAutomationEditor(parent: HTMLElement, text: string, options: { readOnly: boolean; onChange: (text: string) => void; onProblems: (problems: readonly Problem[] | null) => void }): AutomationEditor {
  const schema = automationSchema as unknown as JSONSchema7;
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: text,
      extensions: [
        basicSetup,
        json(),
        EditorView.contentAttributes.of({ 'aria-label': 'Automation definition (JSON)' }),
        EditorState.readOnly.of(options.readOnly),
        linter(jsonParseLinter()),
        linter(jsonSchemaLinter(), { needsRefresh: (update) => handleRefresh(update) }),
        apiValidation(options.onProblems),
        lintGutter(),
        autocompletion({ override: [(context) => {
          const result = schemaCompletion(context);
          return Array.isArray(result) ? null : result;
        }] }),
        stateExtensions(schema),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) options.onChange(update.state.doc.toString());
        }),
      ],
    }),
  });
  return {
    view,
    text: () => view.state.doc.toString(),
    setText(next) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: next } });
    },
    destroy: () => view.destroy(),
  };
}
