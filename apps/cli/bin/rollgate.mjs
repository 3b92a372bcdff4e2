#!/usr/bin/env node
// Runs the TypeScript sources through tsx, so `npx rollgate …` works right after `npm install`,
// with no build step. The import is dynamic: a static one would be hoisted above register().
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
