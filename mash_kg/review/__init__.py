"""The review web page (`mash-kg review serve`): clinicians accept, reject or move learned
edges; decisions go to the graph through `mash_kg.graph.decisions`.

- app.py: the Flask application (server-rendered Jinja pages, CSRF tokens on every form,
  an access token when bound beyond the loopback);
- evidence.py: what a build folder adds to an edge (frequencies, candidates with every score
  column the build wrote, counterparts);
- disk.py: the small Poincaré-disk picture of an edge's neighbourhood (SVG);
- server.py: the WSGI server (waitress) and the bind rules.
"""

from mash_kg.review.app import create_app
from mash_kg.review.server import serve

__all__ = ["create_app", "serve"]
