"""The practical's whole experiment from the command line (README: "The experiment from the command line").

    python -m helpers.compare --activations Sigmoid Tanh ReLU --epochs 5 --seed 0 --out results/
"""

import sys

from ._machinery.compare import main

if __name__ == "__main__":
    sys.exit(main())
