#!/usr/bin/env node
// The Bookinfo sample's executable: checks the Node.js version, then loads the app (bookinfo-entry.ts).
import { checkRuntime } from '../../common/runtime.js';

if (checkRuntime('bookinfo')) await import('./bookinfo-entry.js');
