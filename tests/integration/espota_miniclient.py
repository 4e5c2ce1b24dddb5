"""A tiny, independent espota host written from protocol.md, used only to
test espota-sim itself (raw sockets + hashlib; no libespota)."""

from __future__ import annotations

import hashlib
import socket
import time

IMAGE_MD5 = "4a818557f9d99eb7ff46fdb089d7619b"


def make_image(size: int = 329008, byte3: int | None = None) -> bytes:
    """protocol.md 10: byte 0 = 0xE9, byte i = i mod 251."""
    b = bytearray(i % 251 for i in range(size))
    b[0] = 0xE9
    if byte3 is not None:
        b[3] = byte3
    return bytes(b)


def md5hex(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def sha256hex(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def scheme_a(pwhash: str, nonce: str, cnonce: str) -> str:
    return md5hex(f"{pwhash}:{nonce}:{cnonce}".encode())


def scheme_b(pwhash: str, nonce: str, cnonce: str) -> str:
    dk = hashlib.pbkdf2_hmac("sha256", pwhash.encode(), f"{nonce}:{cnonce}".encode(), 10000, 32)
    return sha256hex(f"{dk.hex()}:{nonce}:{cnonce}".encode())


class Host:
    """One host-side session: TCP listener first, then UDP from one socket."""

    def __init__(self, dev_port: int, dev_addr: str = "127.0.0.1", bind: str = "127.0.0.1"):
        fam = socket.AF_INET6 if ":" in dev_addr else socket.AF_INET
        self.dev = (dev_addr, dev_port)
        self.lsock = socket.socket(fam, socket.SOCK_STREAM)
        self.lsock.bind((bind, 0))
        self.lsock.listen(4)
        self.host_port = self.lsock.getsockname()[1]
        self.udp = socket.socket(fam, socket.SOCK_DGRAM)
        self.udp.bind((bind, 0))
        self.conn: socket.socket | None = None

    def close(self):
        for s in (self.conn, self.lsock, self.udp):
            if s:
                s.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, payload: bytes, sock: socket.socket | None = None):
        (sock or self.udp).sendto(payload, self.dev)

    def recv(self, timeout: float = 3.0, sock: socket.socket | None = None) -> bytes | None:
        s = sock or self.udp
        s.settimeout(timeout)
        try:
            return s.recv(2048)
        except socket.timeout:
            return None

    def invite(self, size: int, md5: str, cmd: int = 0) -> bytes | None:
        self.send(f"{cmd} {self.host_port} {size} {md5}\n".encode())
        return self.recv()

    def handshake(self, image: bytes, cmd: int = 0, password: str | None = None,
                  md5_hash: bool = False) -> bytes | None:
        """Invitation (+ auth). Returns the final UDP reply."""
        r = self.invite(len(image), md5hex(image), cmd)
        if r and r.startswith(b"AUTH "):
            nonce = r[5:].decode()
            if len(nonce) == 32:
                cnonce = md5hex(b"x" + image[:16])
                resp = scheme_a(md5hex(password.encode()), nonce, cnonce)
            else:
                cnonce = sha256hex(b"x" + image[:16])
                pw = md5hex(password.encode()) if md5_hash else sha256hex(password.encode())
                resp = scheme_b(pw, nonce, cnonce)
            self.send(f"200 {cnonce} {resp}\n".encode())
            r = self.recv()
        return r

    def accept(self, timeout: float = 5.0) -> bool:
        self.lsock.settimeout(timeout)
        try:
            self.conn, _ = self.lsock.accept()
        except socket.timeout:
            return False
        return True

    def stream(self, data: bytes, chunk: int = 1460, stop_and_wait: bool = True,
               close_after: int | None = None, final_timeout: float = 10.0) -> bytes:
        """Send `data` (stop-and-wait by default); return every byte the
        device sent back, up to its close (bounded)."""
        c = self.conn
        assert c
        got = bytearray()
        off = 0
        limit = len(data) if close_after is None else close_after
        try:
            while off < limit:
                n = min(chunk, limit - off)
                c.sendall(data[off:off + n])
                off += n
                if stop_and_wait:
                    c.settimeout(10)
                    r = c.recv(64)
                    if not r:
                        return bytes(got)
                    got += r
        except (BrokenPipeError, ConnectionResetError):
            pass
        if close_after is not None:
            c.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + final_timeout
        while time.monotonic() < deadline:
            c.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                r = c.recv(4096)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not r:
                break
            got += r
        return bytes(got)


def split_stream(b: bytes) -> tuple[bytes, bytes]:
    """Leading digits (acks) and the status text (protocol.md 5.8)."""
    i = 0
    while i < len(b) and 0x30 <= b[i] <= 0x39:
        i += 1
    return b[:i], b[i:]
