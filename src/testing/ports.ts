import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';

/** A port number free on both TCP and UDP (`::`, dual-stack), right now. */
export async function freePort(): Promise<number> {
  for (;;) {
    const s = createServer().listen({ host: '::', port: 0 });
    await once(s, 'listening');
    const port = (s.address() as AddressInfo).port;
    const u = createSocket('udp6');
    const ok = await new Promise<boolean>((resolve) => {
      u.once('error', () => resolve(false));
      u.bind({ port, address: '::' }, () => resolve(true));
    });
    u.close();
    s.close();
    await once(s, 'close');
    if (ok) return port;
  }
}
