"""Write a minimal pure-Python wheel for tests, without network access.

`python -m build --wheel` needs the `wheel` package (setuptools < 70.1), which the offline
peers venv lacks, so the wheel is written with zipfile following the wheel spec (PEP 427,
PEP 491): the package, `.dist-info/METADATA`, `WHEEL` and a `RECORD` with sha256 entries.

usage: python pypi_wheel.py OUT_DIR NAME VERSION REQUIRES_PYTHON MODULE VALUE
prints the wheel's path
"""

import base64
import hashlib
import re
import sys
import zipfile
from pathlib import Path


def record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def main():
    out_dir, name, version, requires_python, module, value = sys.argv[1:7]
    distribution = re.sub(r"[-_.]+", "_", name).lower()
    dist_info = f"{distribution}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f"VALUE = {value!r}\n".encode(),
        f"{dist_info}/METADATA": (
            "Metadata-Version: 2.1\n"
            f"Name: {name}\n"
            f"Version: {version}\n"
            "Summary: a wheel written by lading's tests\n"
            f"Requires-Python: {requires_python}\n"
            "Classifier: Programming Language :: Python :: 3\n"
            "\n"
        ).encode(),
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\n"
            "Generator: lading-tests\n"
            "Root-Is-Purelib: true\n"
            "Tag: py3-none-any\n"
        ).encode(),
    }
    record = [record_line(path, data) for path, data in files.items()]
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = Path(out_dir) / f"{distribution}-{version}-py3-none-any.whl"
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    print(path)


if __name__ == "__main__":
    main()
