from searchsvc.cli import cli

if __name__ == "__main__":  # not when a spawned worker process imports the parent's main module
    cli(prog_name="searchsvc")
