"""``cachetui serve``: the app in a browser, one app process per tab, none left behind.

:mod:`~cachetui.serve.command` is the command line (its socket and URLs:
:mod:`~cachetui.serve.listening`); :mod:`~cachetui.serve.server` is the web server, behind
a token and a cap on sessions, with the page in ``templates/``; each tab's app is a
:mod:`~cachetui.serve.app_service` in its own process group
(:mod:`~cachetui.serve.process_groups`).
"""
