import { describe, expect, it } from 'vitest';
import { countEstablished, countListening } from './tcp-connections';

// Real /proc/net/tcp layout: port 8081 = 0x1F91; state 01 ESTABLISHED, 0A LISTEN, 06 TIME_WAIT.
const tcp = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F91 0100007F:D2A4 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:D2A4 0100007F:1F91 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:1F91 0100007F:D2A6 06 00000000:00000000 03:00000F9B 00000000     0        0 0 3 0000000000000000
   4: 0100007F:1F92 0100007F:D2A8 01 00000000:00000000 00:00000000 00000000     0        0 4 1 0000000000000000 20 4 30 10 -1
`;
const tcp6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F91 00000000000000000000000001000000:E3C2 01 00000000:00000000 00:00000000 00000000     0        0 5 1 0000000000000000 20 4 0 10 -1
`;

describe('ESTABLISHED connections on a local port', () => {
  it('counts only server-side sockets (local port) in state 01', () => {
    // Line 2 is the client side (remote port 8081), line 3 TIME_WAIT, line 0 LISTEN: not counted.
    expect(countEstablished(tcp, 8081)).toBe(1);
    expect(countEstablished(tcp, 8082)).toBe(1);
    expect(countEstablished(tcp, 9999)).toBe(0);
  });

  it('finds listening sockets (state 0A)', () => {
    expect(countListening(tcp, 8081)).toBe(1);
    expect(countListening(tcp, 8082)).toBe(0);
  });

  it('reads the IPv6 table format too', () => {
    expect(countEstablished(tcp6, 8081)).toBe(1);
  });

  it('ignores headers and blank lines', () => {
    expect(countEstablished('\n  sl local_address rem_address st\n\n', 8081)).toBe(0);
  });
});
