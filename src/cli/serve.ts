import { Command } from 'commander';
import { log, setLogLevel } from '../log.js';

export function serveCommand(): Command {
  return new Command('serve')
    .description('run the live service: cameras in, labels out over WebSocket, recordings, web UI')
    .option('--host <host>', 'address to bind; beyond loopback a token is required (env VIGIL_HOST)', undefined)
    .option('-p, --port <port>', 'port; 0 picks a free one (env VIGIL_PORT) [8080]', (v) => Number(v))
    .option('-d, --data <dir>', 'database and clips (env VIGIL_DATA_DIR) [./vigil-data]')
    .option('--token <token>', 'access token for the API and WebSocket (env VIGIL_TOKEN)')
    .option('--no-demo', 'do not add the demo camera on a first start')
    .action(async (o: { host?: string; port?: number; data?: string; token?: string; demo: boolean }) => {
      const { startServer } = await import('../server/app.js');
      // A service says what it does; -q still quiets it.
      if (!process.env.VIGIL_LOG_LEVEL && !process.argv.includes('-q') && !process.argv.includes('--quiet')) setLogLevel('info');
      const server = await startServer({ host: o.host, port: o.port, dataDir: o.data, token: o.token, demo: o.demo });
      process.stdout.write(`vigil: serving ${server.url}/ (data in ${server.config.dataDir}); Ctrl-C stops\n`);
      await new Promise<void>((done) => {
        const stop = () => {
          log.info('stopping: cameras, jobs, sockets');
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void server.close().then(done);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
