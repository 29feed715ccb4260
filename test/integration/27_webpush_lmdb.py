"""27_webpush again, against the LMDB store: subscriptions outlive a restart."""
import os
import runpy

os.environ["HF_STORE"] = "lmdb"
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "27_webpush.py"), run_name="__main__")
