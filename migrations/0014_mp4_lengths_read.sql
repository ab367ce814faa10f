-- An MP4 / M4A file's length is now what its edit list says plays (its encoder's priming and
-- padding left out, as the decoder cuts them): the tags of every MP4 file are read again at the
-- next scan.

UPDATE tracks SET mtime_ns = -1
WHERE lower(path) LIKE '%.m4a' OR lower(path) LIKE '%.mp4' OR lower(path) LIKE '%.m4b'
   OR lower(path) LIKE '%.m4p' OR lower(path) LIKE '%.alac';
