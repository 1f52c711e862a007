/**
 * The load generator (a child process) of the ztunnel benchmark: the HBONE benchmark's child loop
 * around this benchmark's tests.
 */
import { serveLoadTests } from '../hbone/child.js';
import { runZtLoadTest } from './load-tests.js';

serveLoadTests(runZtLoadTest);
