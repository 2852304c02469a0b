#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A registry front for test-pull.sh, on loopback in the test's namespace,
in front of a real docker-registry (UPSTREAM), doing what that one does not:

  - bearer-token auth: /v2/ answers 401 with a Bearer challenge whose realm
    is /token here; /token wants Basic USER:PASSWORD and hands out a token;
  - blob storage elsewhere: a blob GET is redirected (307) to another
    origin (127.0.0.2, same port), as registries do with object storage;
  - a broken transfer: the first download of each blob stops half way
    (connection closed), later ones honour Range, so a client must resume;
  - blobs of repositories below chunked/ come chunked, without a length,
    those below slow/ at 1 KiB every half second.

  registry-proxy.py PORT UPSTREAM USER:PASSWORD LOG

LOG gets one line per event: "token creds=yes|no", "blob auth=yes|no",
"range bytes=N-", "cut DIGEST", "slow DIGEST".
"""
import base64
import http.server
import json
import secrets
import socketserver
import sys
import threading
import time
import urllib.error
import urllib.request

PORT = int(sys.argv[1])
UPSTREAM = sys.argv[2]
CREDS = sys.argv[3]
LOGFILE = sys.argv[4]
TOKENS = set()
CUT = set()
LOCK = threading.Lock()


def log(line):
    with LOCK, open(LOGFILE, "a") as f:
        f.write(line + "\n")


def upstream(path, headers):
    req = urllib.request.Request(UPSTREAM + path, headers=headers)
    try:
        r = urllib.request.urlopen(req)
        return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, headers, body):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path
        if path.startswith("/token"):
            return self.token()
        if path.startswith("/blob/"):
            return self.blob(path[len("/blob"):])
        if not path.startswith("/v2/"):
            return self.reply(404, {}, b"")
        auth = self.headers.get("Authorization", "")
        if not (auth.startswith("Bearer ") and auth[7:] in TOKENS):
            repo = path[4:].split("/manifests/")[0].split("/blobs/")[0]
            challenge = ('Bearer realm="http://127.0.0.1:%d/token",service="berth-test",'
                         'scope="repository:%s:pull"' % (PORT, repo))
            return self.reply(401, {"WWW-Authenticate": challenge, "Content-Type": "application/json"},
                              b'{"errors":[{"code":"UNAUTHORIZED","message":"token needed"}]}')
        if "/blobs/" in path:
            return self.reply(307, {"Location": "http://127.0.0.2:%d/blob%s" % (PORT, path)}, b"")
        headers = {k: v for k, v in self.headers.items() if k.lower() == "accept"}
        status, h, body = upstream(path, headers)
        keep = {k: v for k, v in h.items() if k.lower() in ("content-type", "docker-content-digest")}
        self.reply(status, keep, body)

    def token(self):
        auth = self.headers.get("Authorization", "")
        given = auth.startswith("Basic ")
        log("token creds=%s" % ("yes" if given else "no"))
        if not given or base64.b64decode(auth[6:]).decode() != CREDS:
            return self.reply(401, {}, b"")
        t = secrets.token_hex(16)
        TOKENS.add(t)
        self.reply(200, {"Content-Type": "application/json"}, json.dumps({"token": t}).encode())

    def blob(self, path):
        log("blob auth=%s" % ("yes" if "Authorization" in self.headers else "no"))
        rng = self.headers.get("Range")
        if rng:
            log("range %s" % rng)
        status, h, body = upstream(path, {"Range": rng} if rng else {})
        keep = {k: v for k, v in h.items() if k.lower() in ("content-type", "content-range")}
        digest = path.rsplit("/", 1)[1]
        if path.startswith("/v2/chunked/"):
            return self.chunked(status, keep, body)
        if path.startswith("/v2/slow/") and len(body) > 1024:
            return self.slow(status, keep, body)
        with LOCK:
            first = status == 200 and digest not in CUT and len(body) > 1024
            if first:
                CUT.add(digest)
        if not first:
            return self.reply(status, keep, body)
        log("cut %s" % digest)
        self.send_response(200)
        for k, v in keep.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True


    def chunked(self, status, headers, body):
        """No Content-Length: the client learns the size only as it reads."""
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(0, len(body), 8192):
            part = body[i:i + 8192]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        self.wfile.write(b"0\r\n\r\n")


    def slow(self, status, headers, body):
        """A trickle (1 KiB every half second), to be killed in the middle of."""
        log("slow %s" % self.path.rsplit("/", 1)[1])
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for i in range(0, len(body), 1024):
            self.wfile.write(body[i:i + 1024])
            self.wfile.flush()
            time.sleep(0.5)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    Server(("", PORT), Handler).serve_forever()
