"""Sizes of the runs the report tests build (fixtures in conftest.py)."""

#: Customers of the reported sample run, and its chunk size (several chunks).
N_SAMPLE = 1_200
CHUNK = 300
#: Customers the fake fit saw, and its posterior predictive data sets.
N_FIT = 400
PREDICTIVE_DRAWS = 5
