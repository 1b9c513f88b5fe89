/** ClusterLoadAssignment → endpoint list: zones, health, weights, metadata, the caller-zone hint. */
import {
  type ClusterLoadAssignment__Output,
  decodeMessage,
  encodeMessage,
  TYPE_URL,
  toProtoStruct,
} from '@skewless/shared';
import { describe, expect, it } from 'vitest';
import { parseAssignment } from '../src/eds-assignment.ts';

function roundTrip(cla: object): ClusterLoadAssignment__Output {
  return decodeMessage<ClusterLoadAssignment__Output>(
    TYPE_URL.clusterLoadAssignment,
    encodeMessage(TYPE_URL.clusterLoadAssignment, cla),
  );
}

const locality = (zone: string, priority: number, address: string, health = 'HEALTHY') => ({
  locality: { zone },
  priority,
  load_balancing_weight: { value: 1 },
  lb_endpoints: [
    {
      endpoint: { address: { socket_address: { address, port_value: 8080 } } },
      health_status: health,
      load_balancing_weight: { value: 3 },
      metadata: { filter_metadata: { skewless: toProtoStruct({ pod: `pod-${zone}`, zone }) } },
    },
  ],
});

describe('parseAssignment', () => {
  it('reads zone, health, weight, IPv6 keys and our metadata from the decoded proto', () => {
    const result = parseAssignment(
      roundTrip({
        cluster_name: 'default/backend:grpc',
        endpoints: [locality('a', 0, '10.0.0.1'), locality('b', 0, 'fd00::1', 'DRAINING')],
      }),
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.endpoints).toEqual([
      {
        key: '10.0.0.1:8080',
        host: '10.0.0.1',
        port: 8080,
        zone: 'a',
        health: 'HEALTHY',
        weight: 3,
        priority: 0,
        metadata: { pod: 'pod-a', zone: 'a' },
      },
      {
        key: '[fd00::1]:8080',
        host: 'fd00::1',
        port: 8080,
        zone: 'b',
        health: 'DRAINING',
        weight: 3,
        priority: 0,
        metadata: { pod: 'pod-b', zone: 'b' },
      },
    ]);
    expect(result.value.callerZoneHint).toBeUndefined();
  });

  it("takes the zone alone at priority 0 of a per-caller assignment as the caller's zone", () => {
    const result = parseAssignment(
      roundTrip({
        cluster_name: 'x/y:z',
        endpoints: [locality('b', 0, '10.0.0.2'), locality('a', 1, '10.0.0.1'), locality('c', 1, '10.0.0.3')],
      }),
    );
    expect(result.ok && result.value.callerZoneHint).toBe('b');
  });
});
