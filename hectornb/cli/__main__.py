"""``python -m hectornb.cli``: the ``hectornb`` command, as tests and benchmarks run it."""

import sys

from . import main

sys.exit(main())
