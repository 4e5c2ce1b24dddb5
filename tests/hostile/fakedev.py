"""A scriptable fake OTA device for hostile-device tests (loopback only).

It answers an espota invitation on 127.0.0.1 and then behaves as a script
says: how many bytes it reads, what counts it prints, what it says at the
end, and what it sends over UDP from other ports. Every wait is bounded.
"""
from __future__ import annotations

import socket
import threading
import time


class FakeDevice:
    def __init__(self, script, *, platform="esp32", rcvbuf=None):
        # script(conn, size, send) drives the data phase; send(bytes) writes.
        self.script = script
        self.rcvbuf = rcvbuf  # a small TCP receive buffer: unread bytes stay with the host
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.port = self.udp.getsockname()[1]
        self.udp.settimeout(0.2)
        self.before_reply = None  # callable(host, port): UDP noise before our OK
        self.reply = None  # bytes: answer the invitation with this instead of OK, then stop
        self.invitations = 0
        self.error = None
        self.read = 0
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    data, peer = self.udp.recvfrom(512)
                except socket.timeout:
                    continue
                parts = data.decode("ascii", "replace").split()
                if len(parts) < 4:
                    continue
                tcp_port, size = int(parts[1]), int(parts[2])
                self.invitations += 1
                if self.before_reply:
                    self.before_reply(peer)
                if self.reply is not None:
                    self.udp.sendto(self.reply, peer)
                    return
                self.udp.sendto(b"OK", peer)
                c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                if self.rcvbuf:
                    # before connect, so the window in our SYN is already small
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
                c.settimeout(10)
                c.connect(("127.0.0.1", tcp_port))
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                c.settimeout(10)
                try:
                    self.script(self, c, size)
                finally:
                    c.close()
                return
        except Exception as e:  # reported by the test
            self.error = e

    def recv_upto(self, c, n):
        """Reads up to n bytes in one read (0 at EOF)."""
        b = c.recv(n)
        self.read += len(b)
        return len(b)

    def join(self):
        self._t.join(timeout=35)
        self.udp.close()


def reads_then(counts_of, final):
    """A script: reads until `stop(read, size)` and prints count text
    from `counts_of(n, total_read)` after each read, then `final`."""
    def script(dev, c, size):
        stop = counts_of.get("stop", lambda size: size)(size)
        fmt = counts_of.get("fmt", lambda n, total: str(n))
        while dev.read < stop:
            n = dev.recv_upto(c, min(1460, stop - dev.read))
            if n == 0:
                break
            c.sendall(fmt(n, dev.read).encode())
        time.sleep(0.05)
        c.sendall(final)
        time.sleep(0.05)
    return script


def claims_early(unread, claim=1460):
    """A script: reads all but the last `unread` bytes, then, reading no
    more, prints counts of `claim` until they add up to the image, and OK:
    a device that says it has everything while the host still holds bytes
    it never took."""
    def script(dev, c, size):
        while dev.read < size - unread:
            n = dev.recv_upto(c, min(1460, size - unread - dev.read))
            if n == 0:
                return
            c.sendall(str(n).encode())
        claimed = dev.read
        while claimed < size:
            n = min(claim, size - claimed)
            claimed += n
            c.sendall(str(n).encode())
            time.sleep(0.002)
        time.sleep(0.2)
        c.sendall(b"OK")
        time.sleep(0.2)
    return script
