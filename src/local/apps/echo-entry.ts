/**
 * Runs the sample echo app: `node dist/src/local/apps/echo-main.js [--host IP] [--port 8080]
 * [--name NAME] [--tls-cert FILE --tls-key FILE]`.
 */
import { parseConfig, parsers, helpText } from '../../common/config.js';
import { startEcho } from './echo.js';

const schema = {
  host: {
    flag: 'host',
    env: 'ECHO_HOST',
    doc: 'address to listen on',
    default: '0.0.0.0',
    parse: parsers.string,
  },
  port: { flag: 'port', env: 'ECHO_PORT', doc: 'port', default: 8080, parse: parsers.port },
  name: {
    flag: 'name',
    env: 'POD_NAME',
    doc: 'name reported in answers',
    default: 'echo',
    parse: parsers.string,
  },
  tlsCert: { flag: 'tls-cert', doc: 'PEM certificate file: serve HTTPS', default: '', parse: parsers.string },
  tlsKey: { flag: 'tls-key', doc: 'PEM key file of --tls-cert', default: '', parse: parsers.string },
};
const { config, help } = parseConfig(schema, process.argv.slice(2));
if (help) {
  process.stdout.write(`Usage: echo-main [options]\n\n${helpText(schema)}\n`);
} else {
  const { server, port } = await startEcho(config);
  process.stdout.write(`echo ${config.name} listening on ${config.host}:${port}\n`);
  const stop = (): void => {
    server.close();
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
