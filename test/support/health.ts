// A grpc.health.v1 client: what a load balancer or Envoy's health check asks a replica.
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

const Client = grpc.makeGenericClientConstructor(healthService as grpc.ServiceDefinition, 'Health');

export class HealthClient {
  private readonly client: grpc.Client;

  constructor(address: string) {
    this.client = new Client(address, grpc.credentials.createInsecure());
  }

  status(service: string): Promise<string | undefined> {
    return new Promise((resolve, reject) =>
      (this.client as unknown as { Check: Function }).Check({ service }, { deadline: Date.now() + 2000 }, (err: Error | null, res: { status?: string }) => (err ? reject(err) : resolve(res.status))),
    );
  }

  close(): void {
    this.client.close();
  }
}
