"""A static simple repository for tests, negotiating PEP 691 as PyPI does.

pypiserver writes no yanked files, upload times or core metadata, so tests that check what
a pull-through keeps put pages they write themselves behind this server.

usage: python pypi_index.py ROOT PORT [--html-only]

Serves ROOT on 127.0.0.1:PORT. A directory URL (`/simple/demo/`) answers its `index.json`
as `application/vnd.pypi.simple.v1+json` when the Accept header ranks that type above
HTML (and `--html-only` is not given), else its `index.html` as `text/html`, with
`Vary: Accept`. Other paths are served as files. Each request line is appended to
ROOT/requests.log, so a test can tell which files a client fetched.
"""

import http.server
import sys
from pathlib import Path

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPES = ("application/vnd.pypi.simple.v1+html", "text/html")


def prefers_json(accept):
    """Whether the Accept header ranks the PEP 691 JSON type above every HTML type."""
    best_json, best_html = 0.0, 0.0
    for entry in (accept or "").split(","):
        pieces = [piece.strip() for piece in entry.split(";")]
        quality = 1.0
        for parameter in pieces[1:]:
            if parameter.startswith("q="):
                try:
                    quality = float(parameter[2:])
                except ValueError:
                    quality = 0.0
        media_type = pieces[0].lower()
        if media_type in (JSON_TYPE, "application/vnd.pypi.simple.latest+json"):
            best_json = max(best_json, quality)
        elif media_type in HTML_TYPES or media_type in ("*/*", "text/*"):
            best_html = max(best_html, quality)
    return best_json > best_html


class Handler(http.server.SimpleHTTPRequestHandler):
    html_only = False

    def log_message(self, format, *args):
        with open(Path(self.directory) / "requests.log", "a", encoding="utf-8") as log:
            log.write(f"{self.command} {self.path}\n")

    def send_page(self, path, content_type):
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Vary", "Accept")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def serve_page(self):
        folder = Path(self.translate_path(self.path))
        if not self.path.split("?")[0].endswith("/") or not folder.is_dir():
            return False
        json_page, html_page = folder / "index.json", folder / "index.html"
        if not self.html_only and json_page.is_file() and prefers_json(self.headers.get("Accept")):
            self.send_page(json_page, JSON_TYPE)
        elif html_page.is_file():
            self.send_page(html_page, "text/html; charset=utf-8")
        else:
            self.send_error(404)
        return True

    def do_GET(self):
        if not self.serve_page():
            super().do_GET()

    def do_HEAD(self):
        if not self.serve_page():
            super().do_HEAD()


def main():
    root, port = sys.argv[1], int(sys.argv[2])
    Handler.html_only = "--html-only" in sys.argv[3:]
    handler = lambda *args, **kwargs: Handler(*args, directory=root, **kwargs)  # noqa: E731
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
