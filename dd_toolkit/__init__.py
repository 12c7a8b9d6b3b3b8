"""Child-rights due diligence and Safety by Design assessment toolkit.

Three layers, each a subpackage, with imports pointing one way (web -> records -> engine):

- :mod:`dd_toolkit.engine`: content, scoring, benchmarks, actions, documents; plain data in and
  out, no Flask and no database;
- :mod:`dd_toolkit.records`: the database tables and the services that store and read them;
- :mod:`dd_toolkit.web`: the Flask app factory and one blueprint per area.

The ``dd-toolkit`` command (:mod:`dd_toolkit.cli`) calls records and engine as the pages do.
"""

import os
from pathlib import Path


def child_environment(**variables: str) -> dict[str, str]:
    """The environment for a child ``python -m dd_toolkit...`` process (a PDF renderer, a
    release build): this one's, with ``variables``, and this very package first on the path."""
    package_root = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
    return {**os.environ, **variables, "PYTHONPATH": path}
