-- "liked" is now the smart playlist of the liked tracks. A saved playlist of that name (in any
-- case) keeps its entries under another name, made one of a kind by its id.

UPDATE playlists SET name = name || ' (saved ' || id || ')'
WHERE lower(name) = 'liked';
