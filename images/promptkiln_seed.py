"""Seed matplotlib's pre-built font cache into its writable config directory.

Installed into the sandbox image's site-packages and run at interpreter start by
``promptkiln-seed.pth``. The image's root is read-only at run time, and matplotlib refuses a
config directory it cannot write to (it warns and rebuilds the font cache in a temporary one), so
``MPLCONFIGDIR`` points into the tmpfs and this copies the cache that was built with the image
there the first time any Python process starts in a sandbox: no warning, no rebuild. Cheap when
there is nothing to do (one ``stat``); never raises.
"""

import os

_SEED = "/opt/promptkiln/matplotlib"


def _seed() -> None:
    target = os.environ.get("MPLCONFIGDIR")
    if not target or target == _SEED or os.path.isdir(target) or not os.path.isdir(_SEED):
        return
    try:
        os.makedirs(target, mode=0o700)
        for name in os.listdir(_SEED):
            with open(os.path.join(_SEED, name), "rb") as src:
                data = src.read()
            with open(os.path.join(target, name), "wb") as dst:
                dst.write(data)
    except OSError:
        pass


_seed()
