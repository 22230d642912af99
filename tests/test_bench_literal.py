"""``cachetui bench`` prints the URLs it was given literally in its table's title: a
bracket in a cache or queue URL is not Rich markup."""

from __future__ import annotations

import argparse

from cachetui.bench.all_policies import print_table


def test_the_table_title_shows_the_urls_literally(capsys):
    args = argparse.Namespace(
        cache="redis://localhost:6379/0?tag=[/b]",
        queue="sqlite:///tmp/[red]q[/red]x.db",
        ops=10,
        read_ratio=0.9,
        zipf=1.1,
        concurrency=4,
        db=None,
        db_rtt=None,
        cache_rtt=None,
        jitter=0.0,
        external_rate=None,
    )
    print_table([], args)
    out = "".join(capsys.readouterr().out.split())  # the title wraps
    assert "tag=[/b]" in out and "[red]q[/red]x.db" in out
