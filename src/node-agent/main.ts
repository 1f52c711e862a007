#!/usr/bin/env node
// Checks the Node.js version first, then loads the program (entry.ts).
import { checkRuntime } from '../common/runtime.js';

if (checkRuntime('node-agent')) await import('./entry.js');
