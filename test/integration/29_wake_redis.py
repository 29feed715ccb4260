"""29_wake again, against the Redis store: routes kept as device records
in Redis, read for each wake-up, dropped when gone and on revocation."""
import os
import runpy

os.environ["HF_STORE"] = "redis"
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "29_wake.py"), run_name="__main__")
