export interface Nginx {
  dir: string;
  port: number;
  /** nginx's master process (its workers are its children). */
  pid: number;
  stop(): Promise<void>;
}

export function startNginx(httpBlock: (port: number) => string, opts?: { core?: number }): Promise<Nginx>;
