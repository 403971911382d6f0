import os

import pytest


def pytest_collection_modifyitems(config, items):
    # tests/kernel needs a kernel with IPVS: scripts/test runs them in the VM.
    if os.environ.get("IPVS_IN_VM") == "1":
        return
    skip = pytest.mark.skip(reason="needs the IPVS kernel (run through scripts/test in the VM)")
    for item in items:
        if "tests/kernel/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(skip)
