// Curated public API of the testbed: each part appends its exports here.
export { type EchoServerOptions, type StartedEchoServer, startEchoServer } from './backend/echo-server.ts';
