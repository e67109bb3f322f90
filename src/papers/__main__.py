from papers.cli import run

run()
