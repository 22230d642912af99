"""``cachetui bench`` prints the URLs it was given literally in its table's title: a
bracket in a cache or queue URL is not Rich markup."""

from __future__ import annotations

from cachetui.bench.all_policies import print_table
from cachetui.bench.command import build_parser


def test_the_table_title_shows_the_urls_literally(capsys):
    args = build_parser().parse_args(["--ops", "10", "--concurrency", "4"])  # every option
    args.cache = "redis://localhost:6379/0?tag=[/b]"
    args.queue = "sqlite:///tmp/[red]q[/red]x.db"
    print_table([], args)
    out = "".join(capsys.readouterr().out.split())  # the title wraps
    assert "tag=[/b]" in out and "[red]q[/red]x.db" in out
