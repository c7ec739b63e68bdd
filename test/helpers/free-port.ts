// A port the kernel just handed out on 127.0.0.1 and released: for what cannot report the port it
// bound (nginx, pm2's corral, a second corral refused on a taken port).
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
