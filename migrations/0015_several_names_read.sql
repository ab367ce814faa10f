-- Every value of a tag that names artists or genres is now kept ("Simon; Garfunkel"), and a
-- file flagged as part of a compilation without an album artist is filed under "Various
-- Artists": every file's tags are read again at the next scan, as if each file had changed.

UPDATE tracks SET mtime_ns = -1;
