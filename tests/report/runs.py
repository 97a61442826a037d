"""Sizes of the runs the report tests build (fixtures in conftest.py)."""

#: Customers of the reported sample run, and its chunk size (several chunks).
N_SAMPLE = 1_200
CHUNK = 300
#: Customers the fake fit saw, and its posterior predictive data sets.
N_FIT = 400
#: (50: every second of the fake fit's 100 draws; p-values can fall to 2 / 51 < 0.05)
PREDICTIVE_DRAWS = 50
