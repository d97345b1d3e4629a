#!/usr/bin/env python3
"""Keep-alive HTTP/1.1 origin that appends each request's path to a log
file (so a test can tell which requests reached it).
Usage: logorigin.py PORT LOG; prints "ready" when listening."""
import http.server
import socketserver
import sys


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        with open(sys.argv[2], "a") as f:
            f.write(self.path + "\n")
        data = ("path=%s method=GET\n" % self.path).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


srv = S(("127.0.0.1", int(sys.argv[1])), H)
print("ready", flush=True)
srv.serve_forever()
