// A client of tenantgate's ExternalProcessor that behaves as Envoy's ext_proc filter does for one HTTP request: the
// request's headers (values as raw bytes, as Envoy sends them), the response's headers, the body in chunks.
import * as grpc from '@grpc/grpc-js';
import { extProcDefinition } from '../../src/serve/ext-proc-server.js';

export type ExtProcStream = grpc.ClientDuplexStream<object, unknown>;

export function extProcClient(address: string): { open(): ExtProcStream; close(): void } {
  const Client = grpc.makeGenericClientConstructor(extProcDefinition(), 'ExternalProcessor');
  const client = new Client(address, grpc.credentials.createInsecure());
  return { open: () => (client as unknown as { Process(): ExtProcStream }).Process(), close: () => client.close() };
}

const headerMap = (h: Record<string, string>) => ({ headers: Object.entries(h).map(([key, value]) => ({ key, rawValue: Buffer.from(value) })) });

/** One HTTP request's stream: what the processor answered, once it has ended the stream. */
export async function processed(client: { open(): ExtProcStream }, request: Record<string, string>, contentType: string, chunks: string[], extra: object[] = []): Promise<unknown[]> {
  const call = client.open();
  const answers: unknown[] = [];
  call.on('data', (m) => answers.push(m));
  const ended = new Promise<void>((resolve, reject) => {
    call.on('end', resolve);
    call.on('error', reject);
  });
  call.write({ requestHeaders: { headers: headerMap({ ':method': 'POST', ':path': '/api/v1/chat/completions', ...request }), endOfStream: false } });
  for (const m of extra) call.write(m);
  call.write({ responseHeaders: { headers: headerMap({ ':status': '200', 'content-type': contentType }), endOfStream: false } });
  chunks.forEach((c, i) => call.write({ responseBody: { body: Buffer.from(c), endOfStream: i === chunks.length - 1 } }));
  call.end();
  await ended;
  return answers;
}

/** An OpenAI-style chat completion response with its usage. */
export const completionBody = (model: string, input: number, output: number) => JSON.stringify({ object: 'chat.completion', model, choices: [], usage: { prompt_tokens: input, completion_tokens: output } });
