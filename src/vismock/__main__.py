from vismock.cli import run

run()
