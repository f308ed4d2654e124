"""Hot folders: files and case folders dropped into a folder become jobs, exactly once.

Floor 2: knows only the ground floor. ``station`` hands in the job function (the dossier
build) and the journal recorder; this package finds ready candidates (``discover``), claims
them by one rename plus a SQLite row and a lease (``runner``, ``state``, ``lease``), runs the
job, places the outcome in ``done/`` or ``failed/`` (``outcome``), recovers after a crash, and
serves several folders from one daemon (``daemon``). See docs/watch-folders.md.
"""
