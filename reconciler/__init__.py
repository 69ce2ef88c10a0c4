"""reconciler: declarative, Terraform-style management of Together AI GPU clusters."""

import sys

__version__ = "0.1.0"

# httpx imports its own command-line client when rich and pygments are installed (they are:
# apply's live progress uses rich), 20 ms and 4 MiB of every command that talks to the API,
# for a `httpx` command this tool never runs. httpx's __init__ guards that import and falls
# back when it fails, so it fails here. A test proves the client works and loads no rich.
if "httpx._main" not in sys.modules:
    sys.modules["httpx._main"] = None  # type: ignore[assignment]
