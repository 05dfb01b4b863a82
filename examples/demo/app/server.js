#!/usr/bin/env node
// The demo's sample app: a dependency-free HTTP server. build.sh bakes the version in; the demo
// commits it as v1.0.0 and v1.1.0, then with the bug v2.0.0 ships: /health answers 500.
// Port and address: --port/--address, else TEND_PORT/TEND_ADDRESS (what tend passes).
'use strict';

const VERSION = '__VERSION__';
const HEALTH_STATUS = 200;

import('node:http').then(({ createServer }) => {
  const argv = process.argv.slice(2);
  const arg = (name) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
  const port = Number(arg('--port') ?? process.env.TEND_PORT);
  const address = arg('--address') ?? process.env.TEND_ADDRESS ?? '127.0.0.1';
  const server = createServer((req, res) => {
    const [status, body] =
      req.url === '/health' ? [HEALTH_STATUS, HEALTH_STATUS === 200 ? 'ok' : `${VERSION} is broken`]
        : req.url === '/version' ? [200, VERSION]
          : req.url === '/' ? [200, `hello from the demo app ${VERSION}`] : [404, 'not found'];
    res.writeHead(status, { 'Content-Type': 'text/plain' }).end(`${body}\n`);
    console.log(`${req.method} ${req.url} ${status}`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop).on('SIGINT', stop);
  server.listen(port, address, () => console.log(`demo app ${VERSION} listening on ${address}:${port}`));
});
