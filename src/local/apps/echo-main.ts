#!/usr/bin/env node
// The sample echo app's executable: checks the Node.js version, then loads the app (echo-entry.ts).
import { checkRuntime } from '../../common/runtime.js';

if (checkRuntime('echo')) await import('./echo-entry.js');
