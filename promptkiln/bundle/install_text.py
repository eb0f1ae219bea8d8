"""INSTALL.txt: the short text that travels inside every bundle."""

from __future__ import annotations

from collections.abc import Sequence


def install_text(bundle: str, extras: Sequence[str], image_member: str, with_engine: bool) -> str:
    spec = f"promptkiln[{','.join(extras)}]" if extras else "promptkiln"
    engine = (
        "\nNo Docker engine on the target? This bundle carries Debian packages for one:\n"
        f"  tar -xzf {bundle} engine/\n"
        "  apt-get install --no-download ./engine/*.deb   # as root\n"
        "  dockerd &                                      # or: systemctl start docker\n"
        if with_engine
        else ""
    )
    return f"""promptkiln air-gap bundle
=========================

Holds: the wheels of {spec} and its dependencies (wheels/), the sandbox image
({image_member}), the bundled model (model/), MANIFEST.json with the size and
sha256 of every member, and this text. Nothing here opens a network connection.

With promptkiln already installed (any version):
  promptkiln bundle verify {bundle}
  promptkiln bundle install {bundle} --venv ~/promptkiln
  ~/promptkiln/bin/promptkiln doctor

From a machine that has only Python (3.11, the version the wheels were made for):
  mkdir bundle && tar -xzf {bundle} -C bundle
  python3 -m venv /tmp/pk-boot
  /tmp/pk-boot/bin/pip install --no-index --find-links bundle/wheels '{spec}'
  /tmp/pk-boot/bin/promptkiln bundle install {bundle} --venv ~/promptkiln
  rm -rf /tmp/pk-boot bundle

`bundle install` checks every member before it changes anything, installs the
wheels into the new venv (pip --no-index), loads the image into the Docker
engine (docker load), puts the model where promptkiln looks for it, and ends
with `promptkiln doctor`. A damaged bundle is refused with the member's name.
{engine}"""
