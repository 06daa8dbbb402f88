// The part of the WebAssembly JS API the policy host uses: Node has it at run time, but the Node type definitions
// in use here do not declare it, and the DOM library would bring in far more than this.
declare namespace WebAssembly {
  interface MemoryDescriptor {
    initial: number;
    maximum?: number;
  }
  class Memory {
    constructor(descriptor: MemoryDescriptor);
    readonly buffer: ArrayBuffer;
    grow(delta: number): number;
  }
  class Global {
    value: unknown;
  }
  class Module {}
  interface Instance {
    readonly exports: Record<string, unknown>;
  }
  function instantiate(bytes: Uint8Array, imports?: Record<string, Record<string, unknown>>): Promise<{ module: Module; instance: Instance }>;
}
