/**
 * How the API server reaches the node agents' kubelet API (and pods) in the local cluster: the API server
 * runs on the machine's loopback, the nodes sit in network namespaces nothing on the machine routes to.
 * This is the stand-in for a konnectivity server: an HTTP CONNECT proxy on a unix socket, started inside
 * the underlay namespace (which routes to every node and pod), named in the API server's egress selector
 * configuration for `cluster` traffic. The API server dials `CONNECT 172.31.0.11:10250` through it and
 * speaks TLS to the node agent end to end. The socket is the only way in (mode 0600), and the namespace
 * routes nowhere but the cluster's own addresses.
 *
 *   node testbed/src/node-agent/apiserver-egress.ts <socket>
 */
import { chmodSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:net';

const socketPath = process.argv[2];
if (!socketPath) {
  process.stderr.write('usage: apiserver-egress <socket>\n');
  process.exit(2);
}

const server = createServer((_req, res) => {
  res.writeHead(405, { 'content-type': 'text/plain' });
  res.end('only CONNECT\n');
});
server.on('connect', (req, client, head) => {
  const target = /^([0-9.]+):(\d+)$/.exec(req.url ?? '');
  if (!target) {
    client.end(`HTTP/1.1 400 Bad Request\r\n\r\nCONNECT wants <ipv4>:<port>, got ${req.url}\n`);
    return;
  }
  let tunnelled = false;
  const upstream = connect(Number(target[2]), target[1], () => {
    tunnelled = true;
    client.write('HTTP/1.1 200 Connection established\r\n\r\n');
    if (head.length > 0) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  upstream.once('error', (error) => {
    // Before the tunnel is up the API server gets the reason in its dial error; after, both ends just close.
    if (!tunnelled) client.end(`HTTP/1.1 502 Bad Gateway\r\n\r\n${error.message}\n`);
    else client.destroy();
  });
  client.once('error', () => upstream.destroy());
  client.once('close', () => upstream.destroy());
});

rmSync(socketPath, { force: true });
server.listen(socketPath, () => {
  chmodSync(socketPath, 0o600);
});
const stop = () => {
  server.close();
  server.closeAllConnections();
  rmSync(socketPath, { force: true });
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
