"""``vismock record``: a real vCenter's tasks (and inventory) written as a scenario file that
``vismock serve --tasks FILE`` replays.

- :mod:`.timeline`: what the recorder saw of one task (its TaskInfos, each with when it was seen)
  -> the task file's task, whose timeline replays them (pure, no network);
- :mod:`.inventory`: the inventory read from vCenter -> the ``inventory:`` document;
- :mod:`.session`: the pyVmomi side: listing, reading and following tasks, walking the inventory;
- :mod:`.document`: the file: user names replaced, YAML with comments, checked by loading it
  back, written atomically;
- :mod:`.cli`: the command, its progress line and its clean stop on Ctrl-C.

The format and what is not recorded: docs/record.md.
"""
