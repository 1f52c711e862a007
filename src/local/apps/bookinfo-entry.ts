/** Runs one Bookinfo role: `node dist/src/local/apps/bookinfo-main.js --role reviews --version v2`. */
import { parseConfig, parsers, helpText } from '../../common/config.js';
import { startBookinfo, type Role } from './bookinfo.js';

const ROLES: Role[] = ['productpage', 'details', 'reviews', 'ratings'];
const schema = {
  role: {
    flag: 'role',
    env: 'BOOKINFO_ROLE',
    doc: ROLES.join(' | '),
    default: 'productpage',
    parse: parsers.string,
  },
  version: {
    flag: 'version',
    env: 'BOOKINFO_VERSION',
    doc: 'v1 | v2 | v3',
    default: 'v1',
    parse: parsers.string,
  },
  host: {
    flag: 'host',
    env: 'BOOKINFO_HOST',
    doc: 'address to listen on',
    default: '0.0.0.0',
    parse: parsers.string,
  },
  port: { flag: 'port', env: 'BOOKINFO_PORT', doc: 'port', default: 9080, parse: parsers.port },
  failEvery: {
    flag: 'fail-every',
    env: 'BOOKINFO_FAIL_EVERY',
    doc: 'answer 503 to every Nth request (2: every other one; to try retries on); 0: never',
    default: 0,
    parse: parsers.int(0, 1_000_000),
  },
  logRequests: {
    flag: 'log-requests',
    env: 'BOOKINFO_LOG_REQUESTS',
    doc: 'log each request (method, path, x-request-id, trace headers) as a JSON line on stdout',
    default: true,
    parse: parsers.bool,
  },
  failStatus: {
    flag: 'fail-status',
    env: 'BOOKINFO_FAIL_STATUS',
    doc: 'answer every request with this status (0: work normally; a broken instance for resilience demos)',
    default: 0,
    parse: parsers.int(0, 599),
  },
  name: {
    flag: 'name',
    env: 'POD_NAME',
    doc: 'name reported in answers',
    default: 'bookinfo',
    parse: parsers.string,
  },
};
const { config, help } = parseConfig(schema, process.argv.slice(2));
if (help) {
  process.stdout.write(`Usage: bookinfo-main [options]\n\n${helpText(schema)}\n`);
} else if (!ROLES.includes(config.role as Role)) {
  process.stderr.write(`bookinfo: --role ${config.role}: use one of ${ROLES.join(', ')}\n`);
  process.exitCode = 2;
} else {
  const { server, port } = await startBookinfo({
    ...config,
    role: config.role as Role,
    log: config.logRequests ? (line) => process.stdout.write(line) : undefined,
    failStatus: config.failStatus || undefined,
  });
  process.stdout.write(
    `bookinfo ${config.role} ${config.version} (${config.name}) listening on ${config.host}:${port}\n`,
  );
  const stop = (): void => {
    server.close();
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
