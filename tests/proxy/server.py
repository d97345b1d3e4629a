#!/usr/bin/env python3
"""Tiny HTTP/1.1 test origin for capsule-proxy tests (loopback only).

GET  /headers     -> the request head as received (to check what the proxy sent)
GET  /authhash    -> count and sha256 of the Authorization header(s)
GET  /chunked     -> a chunked response
GET  /close       -> a close-delimited response (no Content-Length)
GET  /size/N      -> N bytes of 'x'
POST|PUT /echo    -> "len=N sha256=..." of the (Content-Length or chunked) body
any  other        -> "path=<path> method=<method>"
Usage: server.py PORT [ADDR [CERT KEY]]; prints "ready" when listening.
"""
import hashlib
import http.server
import socketserver
import sys


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if te.lower() == "chunked":
            data = b""
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(n) if n else b""

    def send(self, code, data, extra=()):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def handle_any(self):
        p = self.path
        if p == "/headers":
            raw = self.requestline + "\n" + "".join("%s: %s\n" % (k, v) for k, v in self.headers.items())
            return self.send(200, raw.encode())
        if p == "/authhash":
            a = self.headers.get_all("Authorization") or []
            return self.send(200, ("n=%d sha256=%s\n" % (len(a), hashlib.sha256((a[0] if a else "").encode()).hexdigest())).encode())
        if p == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"hello ", b"chunked ", b"world\n"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        if p == "/close":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"closed-body\n")
            self.close_connection = True
            return
        if p.startswith("/size/"):
            return self.send(200, b"x" * int(p[6:]))
        if self.command in ("POST", "PUT"):
            data = self.body()
            return self.send(200, ("len=%d sha256=%s\n" % (len(data), hashlib.sha256(data).hexdigest())).encode())
        return self.send(200, ("path=%s method=%s\n" % (p, self.command)).encode(),
                         [("Connection", "keep-alive, X-Hop"), ("Keep-Alive", "timeout=5"), ("X-Hop", "secret")])

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any


class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    port = int(sys.argv[1])
    addr = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    srv = S((addr, port), H)
    if len(sys.argv) > 4:  # CERT KEY: serve HTTPS
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[3], sys.argv[4])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("ready", flush=True)
    srv.serve_forever()
