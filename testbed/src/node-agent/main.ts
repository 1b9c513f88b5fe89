/**
 * Entry point of one node agent process. The cluster driver starts it inside the node's network
 * namespace (`nsenter --net`, so it shares the machine's mount namespace and can create pod namespaces
 * the driver sees) with the path of a JSON file holding its NodeAgentConfig and kubeconfig path.
 *
 *   node testbed/src/node-agent/main.ts <agent.json>
 */
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '@skewless/shared';
import { type NodeAgentConfig, startNodeAgent } from './node-agent.ts';

const configPath = process.argv[2];
if (!configPath) {
  process.stderr.write('usage: node-agent <agent.json>\n');
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8')) as NodeAgentConfig & { kubeconfigPath: string };
const logger = createLogger(`node-agent:${config.nodeName}`);
const kubeConfig = new KubeConfig();
kubeConfig.loadFromFile(config.kubeconfigPath);

try {
  const agent = await startNodeAgent(config, kubeConfig, logger);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    agent.stop().then(
      () => process.exit(0),
      (error: Error) => {
        logger.error({ err: error.message }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (error) {
  logger.error({ err: (error as Error).message }, 'node agent failed to start');
  process.exit(1);
}
