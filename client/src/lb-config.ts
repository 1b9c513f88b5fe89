/** The `skewless` LB policy's config, as it appears in a service config. */
import type { experimental } from '@grpc/grpc-js';
import { z } from 'zod';
import { formatIssues, type ServiceOptions, serviceOptionsSchema } from './config-service.ts';

export const LB_POLICY_NAME = 'skewless';

const lbConfigSchema = z.strictObject({
  service: z.string().min(1),
  options: serviceOptionsSchema.prefault({}),
});

export class SkewlessLbConfig implements experimental.TypedLoadBalancingConfig {
  readonly service: string;
  readonly options: ServiceOptions;

  constructor(service: string, options: ServiceOptions) {
    this.service = service;
    this.options = options;
  }

  getLoadBalancerName(): string {
    return LB_POLICY_NAME;
  }

  toJsonObject(): object {
    return { [LB_POLICY_NAME]: { service: this.service, options: this.options } };
  }

  /** Throws with every problem listed; grpc-js then reports it as a service config error. */
  static createFromJson(obj: unknown): SkewlessLbConfig {
    const result = lbConfigSchema.safeParse(obj);
    if (!result.success) throw new Error(formatIssues(result.error).join('; '));
    return new SkewlessLbConfig(result.data.service, result.data.options);
  }
}
