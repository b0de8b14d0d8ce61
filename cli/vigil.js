#!/usr/bin/env node
// npm bin entry: the CLI is TypeScript run by Node 24's type stripping.
await import('./main.ts');
