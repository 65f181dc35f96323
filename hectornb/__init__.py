"""hectornb: a Jupyter-first science platform for the Hector Galaxy Survey and 2dF/AAOmega."""

__version__ = "0.1.0"


def _jupyter_server_extension_points() -> list[dict]:
    """Jupyter finds the server extension here when ``hectornb`` is enabled."""
    return [{"module": "hectornb.server"}]
