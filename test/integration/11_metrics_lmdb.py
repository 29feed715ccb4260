"""11_metrics again, against the LMDB store."""
import os
import runpy

os.environ["HF_STORE"] = "lmdb"
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "11_metrics.py"), run_name="__main__")
