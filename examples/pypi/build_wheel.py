"""Build the example wheel with the standard library only (no pip, no build backend).

Usage: python3 build_wheel.py OUT_DIR  (run from anywhere; sources are next to this file)
"""
import base64
import hashlib
import os
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
NAME, VERSION = "lading_example", "1.0.0"
DIST_INFO = f"{NAME}-{VERSION}.dist-info"


def record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "dist")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(HERE, "src", NAME, "__init__.py"), "rb") as source:
        init = source.read()
    files = {
        f"{NAME}/__init__.py": init,
        f"{DIST_INFO}/METADATA": (
            "Metadata-Version: 2.1\nName: lading-example\nVersion: 1.0.0\n"
            "Summary: Example Python package published by lading run\n"
        ).encode(),
        f"{DIST_INFO}/WHEEL": b"Wheel-Version: 1.0\nGenerator: build_wheel.py\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [record_line(path, data) for path, data in files.items()]
    record.append(f"{DIST_INFO}/RECORD,,")
    files[f"{DIST_INFO}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = os.path.join(out, f"{NAME}-{VERSION}-py3-none-any.whl")
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    print(wheel)


if __name__ == "__main__":
    main()
