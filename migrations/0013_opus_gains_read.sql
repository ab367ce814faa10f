-- Opus files' gains are now read from their R128_TRACK_GAIN and R128_ALBUM_GAIN tags: the tags
-- of every Ogg file (Opus is often named .ogg or .oga) are read again at the next scan.

UPDATE tracks SET mtime_ns = -1
WHERE lower(path) LIKE '%.opus' OR lower(path) LIKE '%.ogg' OR lower(path) LIKE '%.oga';
