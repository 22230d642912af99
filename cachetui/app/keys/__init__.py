"""The keys of the dashboard and of compare mode: :mod:`.table` is the one table of them
(keys, actions, footer labels, help text, the modes and conditions they apply to),
:mod:`.records` its record types and the views on it that need no Textual, and
:mod:`.bindings` the Textual bindings made from it."""
