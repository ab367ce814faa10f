-- Tag text is now kept in one form (composed Unicode, one line, no control or hidden
-- characters): every file's tags are read again at the next scan, as if each file had changed.

UPDATE tracks SET mtime_ns = -1;
