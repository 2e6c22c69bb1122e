// The protocol's cancel request for a client's running statement. A COPY TO STDOUT cannot be
// ended from the client's side of the connection (CopyFail exists only for COPY FROM STDIN): the
// server stops sending only when told out of band, on a new socket, with the backend's pid and
// secret key from the startup. Resolves once the server has taken the request (it closes the
// socket); the statement then fails with 57014 on its own connection. The request is sent in
// plain text: the server takes it before any TLS or pg_hba check.
import net from 'node:net';
import type pg from 'pg';

const CANCEL_REQUEST_CODE = 80877102;

interface ClientInternals {
  processID?: number | null;
  secretKey?: number | null;
  host?: string;
  port?: number;
}

/** Sends a cancel request for the client's running statement; false when it cannot be sent. */
export async function sendCancelRequest(client: pg.ClientBase, timeoutMs = 5000): Promise<boolean> {
  const c = client as unknown as ClientInternals;
  if (c.processID == null || c.secretKey == null || !c.port) return false;
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  packet.writeInt32BE(c.processID, 8);
  packet.writeInt32BE(c.secretKey, 12);
  const host = c.host ?? 'localhost';
  return new Promise<boolean>((resolve) => {
    const socket: net.Socket = host.startsWith('/')
      ? net.connect(`${host}/.s.PGSQL.${c.port}`)
      : net.connect(c.port as number, host);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => socket.write(packet));
    // The postmaster answers nothing: it signals the backend and closes the socket.
    socket.once('close', () => done(true));
    socket.once('error', () => done(false));
  });
}
