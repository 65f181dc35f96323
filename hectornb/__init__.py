"""hectornb: a Jupyter-first science platform for the Hector Galaxy Survey and 2dF/AAOmega."""

__version__ = "0.1.0"
