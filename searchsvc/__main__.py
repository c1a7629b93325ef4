from searchsvc.cli import cli

cli(prog_name="searchsvc")
