"""Publish COUNT npm versions to a lading serve npm registry, one after the other, and print
the latency of each publish as a summary line: `publishes N p50_ms P p99_ms Q per_s R`.

    python3 bench/serve-publish.py REGISTRY_URL TOKEN PACKAGE COUNT

REGISTRY_URL ends with `/d/local/npm/main/`. Each version is a small tarball (1 KiB) sent as
`npm publish` sends it (a PUT of the packument with the tarball attached), on one kept-alive
connection, so the figure is the server's publish path: index transaction and blob write.
"""

import base64
import gzip
import http.client
import io
import json
import sys
import tarfile
import time
import urllib.parse


def tarball(name, version):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for path, data in (
            ("package/package.json", json.dumps({"name": name, "version": version}).encode()),
            ("package/index.js", (f"module.exports = '{version}';\n" * 32).encode()),
        ):
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = 0
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(out.getvalue(), mtime=0)


def main():
    registry, token, name, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    url = urllib.parse.urlsplit(registry)
    connection = http.client.HTTPConnection(url.hostname, url.port)
    path = url.path.rstrip("/") + "/" + urllib.parse.quote(name, safe="@")
    latencies = []
    started = time.perf_counter()
    for number in range(count):
        version = f"1.0.{number}"
        data = tarball(name, version)
        body = json.dumps({
            "_id": name,
            "name": name,
            "dist-tags": {"latest": version},
            "versions": {version: {"name": name, "version": version}},
            "_attachments": {f"{name}-{version}.tgz": {
                "content_type": "application/octet-stream",
                "data": base64.b64encode(data).decode(),
                "length": len(data),
            }},
        }).encode()
        begin = time.perf_counter()
        connection.request("PUT", path, body, {
            "authorization": f"Bearer {token}",
            "content-type": "application/json",
        })
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - begin)
        if response.status >= 300:
            sys.exit(f"publish {name}@{version}: HTTP {response.status}")
    elapsed = time.perf_counter() - started
    latencies.sort()

    def percentile(fraction):
        return latencies[min(len(latencies) - 1, int(len(latencies) * fraction))] * 1000

    print(f"publishes {count} p50_ms {percentile(0.50):.2f} p99_ms {percentile(0.99):.2f} "
          f"per_s {count / elapsed:.1f}")


if __name__ == "__main__":
    main()
