#!/usr/bin/env node
/**
 * Runs the echo app: `node echo-main.js [--port 8080] [--host 0.0.0.0]`; the name defaults to $POD_NAME.
 */
import { startEcho } from './echo.js';

const arg = (flag: string): string | undefined => {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const port = Number(arg('--port') ?? 8080);
const { server } = await startEcho({
  port,
  host: arg('--host') ?? '0.0.0.0',
  name: process.env.POD_NAME ?? 'echo',
});
process.stdout.write(`echo listening on ${port}\n`);
const stop = (): void => {
  server.close();
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
