/*
 * Stands in for codemirror-json-schema's Markdown renderer (markdown-it with the shiki
 * highlighter, about 500 KiB and a WebAssembly engine) when the console is bundled: the schema's
 * descriptions and messages are short plain sentences with `code` spans, shown as escaped text.
 * scripts/build-console.ts points the library's `utils/markdown` import here.
 */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function renderMarkdown(markdown: string, _inline = true): string {
  return escapeHtml(markdown).replace(/`([^`]+)`/g, '<code>$1</code>');
}
