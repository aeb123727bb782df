import { once } from 'node:events';
import * as path from 'node:path';

export interface BoomLog {
  /** false: the buffer is over its high-water mark, wait for `drained()`. */
  write(data: Uint8Array): boolean;
  drained(): Promise<void>;
  /** Everything written reached the OS. */
  end(): Promise<void>;
}

type BufferBoom = NodeJS.EventEmitter & {
  write(chunk: Uint8Array): boolean;
  end(): void;
};

export async function openBoomLog(dir: string, sync: boolean): Promise<BoomLog> {
  const { SonicBoom } = (await import('sonic-boom')).default;
  // contentMode 'buffer' accepts bytes; the bundled declarations only know strings.
  const boom = new SonicBoom({ dest: path.join(dir, 'log.bin'), sync, contentMode: 'buffer' }) as unknown as BufferBoom;
  if (!sync) await once(boom, 'ready');
  return {
    write: (data) => boom.write(data),
    drained: async () => {
      await once(boom, 'drain');
    },
    end: async () => {
      const closed = once(boom, 'close');
      boom.end();
      await closed;
    },
  };
}
