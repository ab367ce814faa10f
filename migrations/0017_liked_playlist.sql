-- "liked" is now the smart playlist of the liked tracks. A saved playlist of that name (in any
-- case) keeps its entries under another name: "liked (saved)", or with its id when that is taken.

UPDATE playlists SET name = name || ' (saved)'
WHERE lower(name) = 'liked'
  AND NOT EXISTS (SELECT 1 FROM playlists AS other WHERE other.name = playlists.name || ' (saved)');

UPDATE playlists SET name = name || ' (saved ' || id || ')'
WHERE lower(name) = 'liked';
