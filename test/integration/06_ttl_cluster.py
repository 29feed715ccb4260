"""06_ttl again, against the Redis store on a Redis Cluster (three primaries, three replicas)."""
import os
import runpy

os.environ["HF_STORE"] = "redis"
os.environ["HF_REDIS"] = "cluster"
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "06_ttl.py"), run_name="__main__")
