/**
 * The load generator (a child process): runs one test at a time on the runner's command and answers
 * with its result, so it never shares an event loop with the proxies or the server it measures.
 */
import { runLoadTest } from './load-tests.js';
import { serveLoadTests } from './child.js';

serveLoadTests(runLoadTest);
