from vigil.runtime.db import run_env

run_env()
