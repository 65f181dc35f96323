"""``python -m hectornb``: the ``hectornb`` command."""

import sys

from .cli import main

sys.exit(main())
