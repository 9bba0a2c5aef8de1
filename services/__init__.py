"""The portal's services: each owns one capability's logic; the views only call them."""
import sys

# httpx imports its command-line interface (rich and pygments, ~4 MB in every gunicorn worker) whenever click is
# installed, as it is here for Flask. None in sys.modules makes that one import fail, which httpx expects: it then
# defines a stand-in `httpx.main` (httpx/__init__.py). The portal never runs httpx's CLI.
sys.modules.setdefault("httpx._main", None)
