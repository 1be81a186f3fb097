"""The test run checks every claim a notebook's text makes strictly: a false one fails the notebook.

(In a student's session the same claims show a note instead; see ``helpers.report.claim``.)
"""

import os

os.environ.setdefault("LAB_STRICT_CLAIMS", "1")  # inherited by the kernels nbval, the rerun and browser tests start
